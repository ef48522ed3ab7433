"""Rerank a candidate list with a user's profile. Pure Python and numpy: no Flink.

    R(u,g)     = sum_k w_uk * h(g)_k                          interest in item g
    relevance  = (1 - a) * upstream_norm + a * interest_norm + b * recency_norm
                 times purchased_demotion_factor if g was bought within purchased_demotion_ms
    then the configured diversity step (MMR, DPP, soft or hard group cap) orders the list.

`upstream_norm` is the upstream score min-max scaled over the list (1.0 for all when all are
equal); `interest_norm` is R over the list's largest R; `recency_norm` is the item's recency over
the list's largest. Ties keep the upstream order. A user with no profile at all (cold start) gets
the upstream order untouched. A candidate without features (unknown item) keeps its upstream
position and is marked so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, NamedTuple, Sequence

import numpy as np

from conf.settings import DiversitySettings, ScoringSettings
from state_schemas.records import Candidate, RankedItem, RerankedList, RerankRequest
from udfs import diversity


class Profile(NamedTuple):
    """What scoring needs to know about a user at one moment."""
    weights: Mapping[str, float]        # w_uk, summing to 1 (empty: no interest yet)
    recency: Mapping[str, float]        # item id -> decayed weight of the user's recent behaviours
    purchased: Mapping[str, int]        # item id -> epoch ms of the latest purchase

    @property
    def is_empty(self) -> bool:
        return not self.weights and not self.recency


EMPTY_PROFILE = Profile({}, {}, {})


@dataclass(frozen=True)
class Ranker:
    scoring: ScoringSettings = ScoringSettings()
    diversity: DiversitySettings = DiversitySettings()

    def rerank(self, request: RerankRequest, profile: Profile, trigger: str = "request",
               at_ts_ms: int | None = None) -> RerankedList:
        """The request's top k candidates, each with the parts of its score."""
        at_ts_ms = request.ts_ms if at_ts_ms is None else at_ts_ms
        candidates = unique_candidates(request.candidates)
        upstream = np.array([c.upstream_score for c in candidates], dtype=float)
        upstream_order = np.argsort(-upstream, kind="stable")
        upstream_rank = np.empty(len(candidates), dtype=int)
        upstream_rank[upstream_order] = np.arange(1, len(candidates) + 1)
        upstream_norm = min_max_normalise(upstream)

        def result(items: tuple[RankedItem, ...], cold_start: bool) -> RerankedList:
            return RerankedList(request_id=request.request_id, user_id=request.user_id,
                                ts_ms=at_ts_ms, cold_start=cold_start,
                                profile_dimensions=len(profile.weights), items=items,
                                trigger=trigger)

        if profile.is_empty:
            return result(tuple(
                RankedItem(candidates[i].item_id, rank, rank, float(upstream_norm[i]),
                           candidates[i].upstream_score, float(upstream_norm[i]), 0.0, 0.0, (),
                           note="cold start: no history for this user, upstream order kept")
                for rank, i in enumerate(upstream_order[:request.k].tolist(), start=1)), True)

        s = self.scoring
        interest = np.array([interest_score(profile.weights, c.features) for c in candidates])
        interest_norm = _over_max(interest)
        recency = np.array([profile.recency.get(c.item_id, 0.0) for c in candidates])
        recency_norm = _over_max(recency)
        relevance = ((1.0 - s.interest_weight) * upstream_norm + s.interest_weight * interest_norm
                     + s.recency_weight * recency_norm)
        demoted = np.array([at_ts_ms - profile.purchased.get(c.item_id, -10**18)
                            <= s.purchased_demotion_ms for c in candidates])
        relevance = np.where(demoted, relevance * s.purchased_demotion_factor, relevance)

        known = np.array([bool(c.features) for c in candidates])
        known_index = np.flatnonzero(known)
        # Diversity works on the known items, pre-sorted by relevance then upstream rank.
        presorted = known_index[np.lexsort((upstream_rank[known_index], -relevance[known_index]))]
        order, adjustments = self._diversify(presorted, relevance, candidates, request.k)
        # Unknown items go back to their upstream positions.
        for i in sorted(np.flatnonzero(~known).tolist(), key=lambda i: upstream_rank[i]):
            position = min(int(upstream_rank[i]) - 1, len(order))
            order.insert(position, i)
            adjustments.insert(position, None)
        rank_before_diversity = {int(i): rank for rank, i in enumerate(presorted.tolist(), start=1)}

        items = []
        for rank, (i, adjustment) in enumerate(zip(order[:request.k], adjustments), start=1):
            c = candidates[i]
            notes = []
            if not c.features:
                notes.append("unknown item: no features in the request, item updates or "
                             "catalogue; neutral interest, upstream position kept")
            if demoted[i]:
                notes.append(f"bought within {s.purchased_demotion_ms // 3_600_000} h: "
                             f"score x {s.purchased_demotion_factor:g}")
            if recency[i] > 0 and s.recency_weight > 0:
                notes.append(f"acted on lately: recency {recency_norm[i]:.2f}")
            if adjustment is not None and self.diversity_active:
                notes.append(f"{self._diversity_label()} {adjustment:.3f}, "
                             f"#{rank_before_diversity[i]} before diversity")
            items.append(RankedItem(
                item_id=c.item_id, rank=rank, upstream_rank=int(upstream_rank[i]),
                score=float(relevance[i]), upstream_score=c.upstream_score,
                upstream_norm=float(upstream_norm[i]), interest=float(interest[i]),
                interest_norm=float(interest_norm[i]),
                because=top_contributions(profile.weights, c.features, s.explain_top_dimensions),
                note="; ".join(notes)))
        return result(tuple(items), False)

    @property
    def diversity_active(self) -> bool:
        return self.diversity.method != "none" or self.diversity.cap_mode != "none"

    def _diversity_label(self) -> str:
        d = self.diversity
        return {"mmr": "MMR penalty", "dpp": "DPP log gain"}.get(
            d.method, {"soft": "group cap x", "hard": "group cap kept (1) or pushed (0)"}
            .get(d.cap_mode, ""))

    def _diversify(self, presorted: np.ndarray, relevance: np.ndarray,
                   candidates: Sequence[Candidate], k: int) -> tuple[list[int], list[float]]:
        d = self.diversity
        if len(presorted) == 0:
            return [], []
        rel = relevance[presorted]
        features = [candidates[i].features for i in presorted.tolist()]
        limit = len(presorted)
        if d.method == "mmr":
            similarity = diversity.similarity_matrix(features, d.similarity_scale)
            local, adjust = diversity.mmr_order(rel, similarity, d.mmr_lambda, limit)
        elif d.method == "dpp":
            similarity = diversity.similarity_matrix(features, d.similarity_scale)
            local, adjust = diversity.dpp_order(rel, similarity, d.dpp_theta, limit)
        elif d.cap_mode == "soft":
            local, adjust = diversity.soft_cap_order(rel, _groups(features, d.group_by),
                                                     d.cap_floor, d.cap_decay, limit)
        elif d.cap_mode == "hard":
            local, adjust = diversity.hard_cap_order(rel, _groups(features, d.group_by),
                                                     d.cap_max_per_group, k)
        else:
            return presorted.tolist(), [0.0] * limit
        return [int(presorted[j]) for j in local], list(adjust)


def _groups(features: Sequence[Mapping[str, float]], group_by: str) -> list[str]:
    prefix = group_by + ":"
    groups = []
    for index, item in enumerate(features):
        group = next((key for key in item if key.startswith(prefix)), None)
        groups.append(group if group is not None else f"#ungrouped-{index}")
    return groups


def _over_max(values: np.ndarray) -> np.ndarray:
    top = values.max() if len(values) else 0.0
    return values / top if top > 0 else np.zeros_like(values)


def interest_score(weights: Mapping[str, float], features: Mapping[str, float]) -> float:
    """R(u,g) = sum_k w_uk * h(g)_k over the dimensions the item has."""
    return sum(weights.get(key, 0.0) * value for key, value in features.items())


def min_max_normalise(values: Sequence[float]) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    low, high = values.min(), values.max()
    if high == low:
        return np.ones_like(values)
    return (values - low) / (high - low)


def top_contributions(weights: Mapping[str, float], features: Mapping[str, float],
                      limit: int) -> tuple[tuple[str, float], ...]:
    parts = [(key, weights[key] * value) for key, value in features.items()
             if key in weights and value != 0.0]
    parts.sort(key=lambda part: -part[1])
    return tuple(parts[:limit])


def unique_candidates(candidates: Sequence[Candidate]) -> list[Candidate]:
    """The candidates with repeated item ids dropped, keeping each item's first (upstream) place."""
    seen: set[str] = set()
    unique = []
    for candidate in candidates:
        if candidate.item_id not in seen:
            seen.add(candidate.item_id)
            unique.append(candidate)
    return unique


def rerank(request: RerankRequest, weights: Mapping[str, float], interest_weight: float,
           explain_top_dimensions: int = 3) -> RerankedList:
    """Interest-only reranking (no recency, demotion or diversity): the design document's model."""
    ranker = Ranker(ScoringSettings(interest_weight=interest_weight,
                                    explain_top_dimensions=explain_top_dimensions))
    return ranker.rerank(request, Profile(weights, {}, {}))
