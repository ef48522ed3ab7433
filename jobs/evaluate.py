"""Offline evaluation on a Taobao UserBehavior log, with the same scoring code as the Flink job.

    python -m jobs.evaluate --events FILE.csv [--conf conf/local.yaml] [--json]
                            [--candidates 100] [--seed 0]

Protocol: the log is replayed in time order. For each user, after the user's first 3 events, at
every event i whose next event i+1 is on another item, a rerank request is made at event i's
timestamp; its target is event i+1's item. Candidates: the target plus 99 distinct other items
drawn by global popularity (numpy seed 0), in a seeded random order; upstream score = the item's
popularity count in the file. The user's state at the request holds exactly events 0..i.

Systems: `upstream` (upstream order), `seed_formula` (R(u,g) with one-hot category features, the
configured behaviour weights, no decay, no blending, ties in upstream order) and `reranker` (the
configured full reranker). Metrics over the full candidate ranking: HR@10, NDCG@10 (one relevant
item: 1/log2(1 + rank) within the top 10), MRR; and of each top 10: intra-list category diversity
(share of item pairs in different categories, averaged over requests) and category coverage
(distinct categories shown in any top 10, over distinct categories in the log).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from conf.settings import (DiversitySettings, InterestSettings, ScoringSettings, Settings,
                           SettingsError, load_settings)
from jobs.sample_data import BEHAVIOUR_TO_EVENT_TYPE, BehaviourLog, read_userbehavior_csv
from state_schemas.records import BehaviourEvent, Candidate, RerankRequest
from udfs.scoring import Ranker
from udfs.user_model import DictUserState, UserModel

TOP_N = 10
HISTORY_BEFORE_FIRST_REQUEST = 3
SYSTEMS = ("upstream", "seed_formula", "reranker")


@dataclass(frozen=True)
class EvaluationRequest:
    request: RerankRequest
    target_item: str


def protocol_records(log: BehaviourLog, dimensions: tuple[str, ...] = ("category",),
                     candidates: int = 100, seed: int = 0) -> Iterator[BehaviourEvent | EvaluationRequest]:
    """The log as events, with the protocol's requests right after the events that trigger them."""
    rng = np.random.default_rng(seed)
    item_ids, counts = np.unique(log.item_id, return_counts=True)
    popularity = dict(zip(item_ids.tolist(), counts.tolist()))
    category_of = dict(zip(log.item_id.tolist(), log.category_id.tolist()))
    draw_p = counts / counts.sum()
    negatives_wanted = min(candidates - 1, len(item_ids) - 1)

    users = log.user_id.tolist()
    items = log.item_id.tolist()
    # The index of each row's next row of the same user (or -1), to know event i+1 at event i.
    next_of_user = [-1] * len(users)
    last_seen: dict[int, int] = {}
    for row in range(len(users) - 1, -1, -1):
        next_of_user[row] = last_seen.get(users[row], -1)
        last_seen[users[row]] = row
    events_seen: dict[int, int] = {}
    with_category = "category" in dimensions

    for row, (user, item, category, behaviour, ts_s) in enumerate(zip(
            users, items, log.category_id.tolist(), log.behavior.tolist(), log.ts_s.tolist())):
        ts_ms = ts_s * 1000
        keys = (f"category:{category}",) if with_category else ()
        yield BehaviourEvent(str(user), str(item), BEHAVIOUR_TO_EVENT_TYPE[behaviour], ts_ms, keys)
        seen = events_seen[user] = events_seen.get(user, 0) + 1
        following = next_of_user[row]
        if seen < HISTORY_BEFORE_FIRST_REQUEST or following < 0 or items[following] == item:
            continue
        target = items[following]
        drawn = rng.choice(item_ids, size=negatives_wanted + 1, replace=False, p=draw_p).tolist()
        chosen = [i for i in drawn if i != target][:negatives_wanted] + [target]
        chosen = [chosen[i] for i in rng.permutation(len(chosen))]
        request = RerankRequest(
            request_id=f"{user}-{seen}", user_id=str(user), ts_ms=ts_ms, k=len(chosen),
            candidates=tuple(Candidate(str(i), float(popularity[i]),
                                       {f"category:{category_of[i]}": 1.0} if with_category else {})
                             for i in chosen))
        yield EvaluationRequest(request, str(target))


def request_json(request: RerankRequest) -> dict:
    """A protocol request as the job's input JSON (features as item attributes)."""
    return {"request_id": request.request_id, "user_id": request.user_id, "ts": request.ts_ms,
            "k": request.k, "candidates": [
                {"item_id": c.item_id, "score": c.upstream_score,
                 **{key.split(":", 1)[0]: key.split(":", 1)[1] for key in c.features}}
                for c in request.candidates]}


def event_json(event: BehaviourEvent) -> dict:
    return {"user_id": event.user_id, "item_id": event.item_id, "type": event.type,
            "ts": event.ts_ms, **{key.split(":", 1)[0]: key.split(":", 1)[1]
                                  for key in event.interest_keys}}


def reranker_model(settings: Settings) -> UserModel:
    """The full configured reranker, as the Flink job builds it."""
    return UserModel(settings.interest, Ranker(settings.scoring, settings.diversity),
                     settings.rerank_on_event)


def seed_formula_model(settings: Settings) -> UserModel:
    interest = InterestSettings(dimensions=("category",), half_life_ms=10**30,
                                behaviour_weights=settings.interest.behaviour_weights,
                                max_dimensions=10**9, recent_items=0, purchased_items=0)
    return UserModel(interest, Ranker(ScoringSettings(interest_weight=1.0), DiversitySettings()))


@dataclass
class Metrics:
    requests: int = 0
    hits: int = 0
    ndcg: float = 0.0
    reciprocal_rank: float = 0.0
    diversity: float = 0.0
    categories_shown: set = field(default_factory=set)

    def add(self, ranked_items: list[str], target: str, category_of: dict[str, str]) -> None:
        rank = ranked_items.index(target) + 1
        self.requests += 1
        self.reciprocal_rank += 1.0 / rank
        if rank <= TOP_N:
            self.hits += 1
            self.ndcg += 1.0 / np.log2(1 + rank)
        top = [category_of[item] for item in ranked_items[:TOP_N]]
        self.categories_shown.update(top)
        pairs = len(top) * (len(top) - 1) / 2
        same = sum(n * (n - 1) / 2 for n in np.unique(top, return_counts=True)[1])
        self.diversity += (pairs - same) / pairs if pairs else 0.0

    def summary(self, categories_total: int) -> dict[str, float]:
        n = max(1, self.requests)
        return {"HR@10": self.hits / n, "NDCG@10": self.ndcg / n, "MRR": self.reciprocal_rank / n,
                "ILD@10": self.diversity / n,
                "coverage": len(self.categories_shown) / max(1, categories_total)}


class Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal or when asked."""

    def __init__(self, total: int, label: str, enabled: bool):
        self.total, self.label, self.enabled = max(1, total), label, enabled
        self.started = time.monotonic()
        self.last_drawn = 0.0

    def update(self, done: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.last_drawn < 0.2 and done < self.total):
            return
        self.last_drawn = now
        width = 30
        filled = int(width * done / self.total)
        rate = done / max(now - self.started, 1e-9)
        eta = (self.total - done) / rate if rate > 0 else 0
        sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
                         f"{done:,}/{self.total:,} rows  {rate:,.0f}/s  eta {eta:,.0f}s ")
        if done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def evaluate(log: BehaviourLog, settings: Settings, candidates: int = 100, seed: int = 0,
             progress: bool = False) -> dict:
    models = {"seed_formula": seed_formula_model(settings), "reranker": reranker_model(settings)}
    states = {name: {} for name in models}
    metrics = {name: Metrics() for name in SYSTEMS}
    category_of = {str(i): str(c) for i, c in zip(log.item_id.tolist(), log.category_id.tolist())}
    bar = Progress(len(log), "evaluating", progress)
    rows = 0
    for record in protocol_records(log, settings.interest.dimensions, candidates, seed):
        if isinstance(record, BehaviourEvent):
            rows += 1
            bar.update(rows)
            for name, model in models.items():
                model.on_event(_state(states[name], record.user_id), record)
            continue
        request = record.request
        upstream = sorted(request.candidates, key=lambda c: -c.upstream_score)
        metrics["upstream"].add([c.item_id for c in upstream], record.target_item, category_of)
        for name, model in models.items():
            ranked, _ = model.on_request(_state(states[name], request.user_id), request)
            metrics[name].add([item.item_id for item in ranked.items], record.target_item,
                              category_of)
    bar.update(len(log))
    categories_total = len(np.unique(log.category_id))
    return {"rows": len(log), "users": int(len(np.unique(log.user_id))),
            "requests": metrics["upstream"].requests, "candidates": candidates, "seed": seed,
            "systems": {name: metrics[name].summary(categories_total) for name in SYSTEMS}}


def _state(states: dict, user_id: str) -> DictUserState:
    state = states.get(user_id)
    if state is None:
        state = states[user_id] = DictUserState()
    return state


def format_table(report: dict) -> str:
    columns = ["HR@10", "NDCG@10", "MRR", "ILD@10", "coverage"]
    lines = [f"{report['rows']:,} rows, {report['users']:,} users, {report['requests']:,} requests "
             f"of {report['candidates']} candidates (seed {report['seed']})", "",
             f"{'system':<14}" + "".join(f"{c:>10}" for c in columns)]
    for name, values in report["systems"].items():
        lines.append(f"{name:<14}" + "".join(f"{values[c]:>10.4f}" for c in columns))
    seed, full = report["systems"]["seed_formula"], report["systems"]["reranker"]
    if seed["NDCG@10"] > 0:
        lines += ["", f"reranker / seed_formula NDCG@10: {full['NDCG@10'] / seed['NDCG@10']:.3f}x; "
                      f"ILD@10 {full['ILD@10']:.4f} vs {seed['ILD@10']:.4f}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", required=True, type=Path, help="UserBehavior CSV, no header")
    parser.add_argument("--conf", default="conf/local.yaml", help="settings of the reranker")
    parser.add_argument("--candidates", type=int, default=100, help="candidates per request")
    parser.add_argument("--seed", type=int, default=0, help="numpy seed of the negative sampling")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--progress", choices=["auto", "on", "off"], default="auto")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.conf)
        log = read_userbehavior_csv(args.events)
    except (SettingsError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.candidates < 2:
        print("error: --candidates must be at least 2", file=sys.stderr)
        return 2
    show_progress = {"on": True, "off": False, "auto": sys.stderr.isatty()}[args.progress]
    report = evaluate(log, settings, args.candidates, args.seed, show_progress)
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
