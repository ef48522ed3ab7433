"""Sample data in the Taobao UserBehavior format, and its replay as job input.

The format is `user_id,item_id,category_id,behavior,timestamp`: no header, behaviours pv, buy,
cart and fav, Unix seconds. `generate_rows` makes such a log with a seeded generator (popular
items and categories dominate, each user keeps to a few favourite categories, visits come in
sessions); `read_userbehavior_csv` reads a real one with pyarrow; `replay_records` turns a log into
the job's input: behaviour events plus rerank requests, in time order.

    python -m jobs.sample_data --out .run/sample.csv [--users 300] [--seed 7]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

BEHAVIOUR_TO_EVENT_TYPE = {"pv": "view", "cart": "cart", "fav": "fav", "buy": "purchase"}
# Share of each behaviour in the real Taobao data set (pv 89.5%, cart 5.5%, fav 2.9%, buy 2.0%).
BEHAVIOUR_SHARE = {"pv": 0.895, "cart": 0.055, "fav": 0.029, "buy": 0.021}
TAOBAO_START_S = 1_511_539_200  # 2017-11-25 00:00 (UTC+8 midnight is 16:00 UTC the day before)


@dataclass(frozen=True)
class BehaviourLog:
    """A UserBehavior log as columns, sorted by time (stable, so ties keep the file's order)."""
    user_id: np.ndarray
    item_id: np.ndarray
    category_id: np.ndarray
    behavior: np.ndarray  # str
    ts_s: np.ndarray

    def __len__(self) -> int:
        return len(self.ts_s)


def _zipf_weights(n: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return weights / weights.sum()


def generate_rows(users: int = 300, items: int = 4000, categories: int = 120, days: int = 3,
                  seed: int = 7) -> BehaviourLog:
    """A seeded, realistic-looking UserBehavior log (sorted by time)."""
    rng = np.random.default_rng(seed)
    category_popularity = _zipf_weights(categories, 1.0)
    item_category = rng.choice(categories, size=items, p=category_popularity)
    item_popularity = _zipf_weights(items, 0.9)[rng.permutation(items)]
    items_of_category = [np.flatnonzero(item_category == c) for c in range(categories)]

    columns: dict[str, list] = {"user_id": [], "item_id": [], "category_id": [], "behavior": [], "ts_s": []}
    behaviours, shares = list(BEHAVIOUR_SHARE), np.array(list(BEHAVIOUR_SHARE.values()))
    for user in range(1, users + 1):
        event_count = int(np.clip(rng.lognormal(np.log(50), 0.8), 8, 600))
        favourites = rng.choice(categories, size=3, replace=False, p=category_popularity)
        favourite_mix = rng.dirichlet(np.ones(3))
        # Sessions: a few visits spread over the days, events seconds to minutes apart.
        session_starts = np.sort(rng.uniform(0, days * 86_400, size=max(1, event_count // 15)))
        session_of_event = np.sort(rng.integers(0, len(session_starts), size=event_count))
        offsets = np.concatenate([np.cumsum(rng.exponential(60, size=np.sum(session_of_event == s)))
                                  for s in range(len(session_starts))])
        timestamps = (TAOBAO_START_S + session_starts[session_of_event] + offsets).astype(np.int64)
        recent: list[int] = []
        for ts in np.sort(timestamps):
            if recent and rng.random() < 0.25:  # look again at something seen lately
                item = recent[rng.integers(max(0, len(recent) - 5), len(recent))]
            else:
                category = (rng.choice(favourites, p=favourite_mix) if rng.random() < 0.75
                            else rng.choice(categories, p=category_popularity))
                pool = items_of_category[category]
                if len(pool) == 0:
                    continue
                weights = item_popularity[pool] / item_popularity[pool].sum()
                item = int(pool[rng.choice(len(pool), p=weights)])
            recent.append(item)
            columns["user_id"].append(user)
            columns["item_id"].append(100_000 + item)
            columns["category_id"].append(5_000 + int(item_category[item]))
            columns["behavior"].append(behaviours[rng.choice(len(behaviours), p=shares)])
            columns["ts_s"].append(int(ts))
    arrays = {name: np.asarray(values) for name, values in columns.items()}
    order = np.argsort(arrays["ts_s"], kind="stable")
    return BehaviourLog(**{name: values[order] for name, values in arrays.items()})


def write_userbehavior_csv(log: BehaviourLog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table({"user_id": log.user_id, "item_id": log.item_id,
                      "category_id": log.category_id, "behavior": log.behavior, "timestamp": log.ts_s})
    pa_csv.write_csv(table, path, pa_csv.WriteOptions(include_header=False, quoting_style="none"))


def read_userbehavior_csv(path: str | Path) -> BehaviourLog:
    """Reads a UserBehavior CSV (no header) with pyarrow and sorts it by time (stable)."""
    names = ["user_id", "item_id", "category_id", "behavior", "timestamp"]
    types = {"user_id": pa.int64(), "item_id": pa.int64(), "category_id": pa.int64(),
             "behavior": pa.string(), "timestamp": pa.int64()}
    try:
        table = pa_csv.read_csv(path, read_options=pa_csv.ReadOptions(column_names=names),
                                convert_options=pa_csv.ConvertOptions(column_types=types))
    except pa.ArrowInvalid as error:
        raise ValueError(f"{path}: not a UserBehavior CSV "
                         f"(user_id,item_id,category_id,behavior,timestamp): {error}") from None
    behavior = table["behavior"].to_numpy(zero_copy_only=False).astype(str)
    unknown = sorted(set(np.unique(behavior)) - set(BEHAVIOUR_TO_EVENT_TYPE))
    if unknown:
        raise ValueError(f"{path}: unknown behavior value(s) {', '.join(unknown[:5])}; "
                         f"expected one of {', '.join(BEHAVIOUR_TO_EVENT_TYPE)}")
    ts_s = table["timestamp"].to_numpy()
    order = np.argsort(ts_s, kind="stable")
    return BehaviourLog(user_id=table["user_id"].to_numpy()[order],
                        item_id=table["item_id"].to_numpy()[order],
                        category_id=table["category_id"].to_numpy()[order],
                        behavior=behavior[order], ts_s=ts_s[order])


def replay_records(log: BehaviourLog, request_every: int = 10, candidates: int = 20, k: int = 10,
                   seed: int = 0) -> Iterator[dict]:
    """The log as job input, in time order: every row is a behaviour event, and after every
    `request_every`-th event of a user a rerank request for that user follows, with `candidates`
    distinct items drawn by global popularity and the popularity count as upstream score."""
    rng = np.random.default_rng(seed)
    item_ids, counts = np.unique(log.item_id, return_counts=True)
    popularity = dict(zip(item_ids.tolist(), counts.tolist()))
    category_of = dict(zip(log.item_id.tolist(), log.category_id.tolist()))
    draw_p = counts / counts.sum()
    size = min(candidates, len(item_ids))
    events_seen: dict[int, int] = {}
    for user, item, category, behaviour, ts_s in zip(log.user_id.tolist(), log.item_id.tolist(),
                                                     log.category_id.tolist(), log.behavior.tolist(),
                                                     log.ts_s.tolist()):
        ts_ms = ts_s * 1000
        yield {"user_id": str(user), "item_id": str(item), "type": BEHAVIOUR_TO_EVENT_TYPE[behaviour],
               "ts": ts_ms, "category": str(category)}
        seen = events_seen[user] = events_seen.get(user, 0) + 1
        if seen % request_every == 0:
            drawn = rng.choice(item_ids, size=size, replace=False, p=draw_p).tolist()
            yield {"request_id": f"{user}-{seen}", "user_id": str(user), "ts": ts_ms, "k": k,
                   "candidates": [{"item_id": str(i), "score": float(popularity[i]),
                                   "category": str(category_of[i])} for i in drawn]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a seeded sample UserBehavior CSV.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--items", type=int, default=4000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    log = generate_rows(users=args.users, items=args.items, days=args.days, seed=args.seed)
    write_userbehavior_csv(log, args.out)
    print(f"wrote {len(log):,} rows for {len(np.unique(log.user_id))} users to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
