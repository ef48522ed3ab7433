"""Latency of answering one rerank request in the operator's pure core (UserModel.on_request).

    python -m bench.rerank_latency [--conf conf/local.yaml] [--candidates 100] [--requests 2000]

Builds users with a realistic history (60 events over 30 categories), then times on_request for
requests of N candidates and prints p50, p99 and max in milliseconds. This is the part of the
operator that runs per request besides state access (see bench/README.md for the whole job).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from conf.settings import load_settings
from jobs.evaluate import reranker_model
from state_schemas.records import BehaviourEvent, Candidate, RerankRequest
from udfs.user_model import DictUserState


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conf", default="conf/local.yaml")
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args(argv)
    settings = load_settings(args.conf)
    model = reranker_model(settings)
    rng = np.random.default_rng(0)
    state = DictUserState()
    for n in range(60):
        model.on_event(state, BehaviourEvent("u", f"i{rng.integers(500)}", "view", n * 60_000,
                                             (f"category:{rng.integers(30)}",)))
    timings = []
    for r in range(args.requests):
        request = RerankRequest(f"r{r}", "u", 3_600_000, 10, tuple(
            Candidate(f"i{i}", float(rng.random()), {f"category:{rng.integers(40)}": 1.0})
            for i in rng.choice(500, size=args.candidates, replace=False)))
        started = time.perf_counter()
        model.on_request(state, request)
        timings.append((time.perf_counter() - started) * 1000)
    p50, p99 = np.percentile(timings, [50, 99])
    print(f"{args.candidates} candidates, {args.requests} requests, diversity "
          f"{settings.diversity.method}/{settings.diversity.cap_mode}: "
          f"p50 {p50:.3f} ms, p99 {p99:.3f} ms, max {max(timings):.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
