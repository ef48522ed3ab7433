"""Rerank a candidate list with a user's interest weights.

    R(u,g)  = sum_k w_uk * h(g)_k               (interest in item g)
    score   = (1 - a) * upstream_norm + a * interest_norm,  a = scoring.interest_weight

`upstream_norm` is the upstream score min-max scaled over the list (1.0 for every item when all
scores are equal); `interest_norm` is R divided by the list's largest R (0 when no item matches),
so both parts span [0, 1] whatever the list. Ties keep the upstream order. Pure Python: no Flink.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from state_schemas.records import Candidate, RankedItem, RerankedList, RerankRequest


def interest_score(weights: Mapping[str, float], features: Mapping[str, float]) -> float:
    """R(u,g) = sum_k w_uk * h(g)_k over the dimensions the item has."""
    return sum(weights.get(key, 0.0) * value for key, value in features.items())


def min_max_normalise(values: Sequence[float]) -> list[float]:
    low, high = min(values), max(values)
    if high == low:
        return [1.0] * len(values)
    span = high - low
    return [(value - low) / span for value in values]


def _top_contributions(weights: Mapping[str, float], features: Mapping[str, float],
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
    """The request's top k candidates by blended score, each with the parts of its score."""
    candidates = unique_candidates(request.candidates)
    # Upstream rank is the order of the upstream scores (stable for ties), not the list order.
    by_upstream = sorted(range(len(candidates)), key=lambda i: -candidates[i].upstream_score)
    upstream_rank = {index: rank for rank, index in enumerate(by_upstream, start=1)}

    upstream_norm = min_max_normalise([c.upstream_score for c in candidates])
    interest = [interest_score(weights, c.features) for c in candidates]
    top_interest = max(interest)
    interest_norm = [r / top_interest if top_interest > 0 else 0.0 for r in interest]
    blended = [(1.0 - interest_weight) * u + interest_weight * r
               for u, r in zip(upstream_norm, interest_norm)]

    order = sorted(range(len(candidates)), key=lambda i: (-blended[i], upstream_rank[i]))
    items = tuple(
        RankedItem(item_id=candidates[i].item_id, rank=rank, upstream_rank=upstream_rank[i],
                   score=blended[i], upstream_score=candidates[i].upstream_score,
                   upstream_norm=upstream_norm[i], interest=interest[i],
                   interest_norm=interest_norm[i],
                   because=_top_contributions(weights, candidates[i].features, explain_top_dimensions))
        for rank, i in enumerate(order[:request.k], start=1))
    return RerankedList(request_id=request.request_id, user_id=request.user_id,
                        ts_ms=request.ts_ms, cold_start=not weights,
                        profile_dimensions=len(weights), items=items)
