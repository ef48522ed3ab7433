"""Ingest throughput of the whole job: behaviour events through Kafka into keyed state.

    python -m bench.ingest [--conf conf/local.yaml] [--events 300000] [--users 10000] [--parallelism 2]

Starts the local Kafka and Redis if needed, writes N behaviour events to a fresh topic, then runs
the job bounded twice: over an empty topic (start-up and shut-down only) and over the events.
Throughput = N / (time with events - time without). Prints one line; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid

import numpy as np
from confluent_kafka import Producer

from conf.settings import PROJECT_ROOT, load_settings
from infra import local_services


def run_bounded(conf: str, topic: str, tag: str, parallelism: int, overrides: list[str]) -> float:
    command = [sys.executable, "-m", "jobs.rerank_job", "--conf", conf, "--bounded",
               "--set", f"kafka.input_topics=[{topic}]", "--set", f"kafka.output_topic=bench-out-{tag}",
               "--set", f"kafka.dead_letter_topic=bench-dlq-{tag}",
               "--set", f"kafka.consumer_group=bench-{tag}-{topic}",
               "--set", f"kafka.transactional_id_prefix=bench-{tag}-{topic}",
               "--set", "kafka.starting_offsets=earliest",
               "--set", "catalogue.update_topic=\"\"",
               "--set", f"flink.parallelism={parallelism}",
               *[arg for override in overrides for arg in ("--set", override)]]
    started = time.monotonic()
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise SystemExit(f"job failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conf", default="conf/local.yaml")
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--parallelism", type=int, default=2)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="SECTION.KEY=VALUE", help="job setting to override (repeatable)")
    args = parser.parse_args(argv)
    settings = load_settings(args.conf)
    with local_services.running(settings):
        return _measure(args, settings)


def _measure(args, settings) -> int:
    tag = uuid.uuid4().hex[:6]
    empty, events = f"bench-empty-{tag}", f"bench-events-{tag}"
    kafka = local_services.LocalKafka(settings)
    kafka.create_topics([empty, events, f"bench-out-{tag}", f"bench-dlq-{tag}"],
                        settings.kafka.topic_partitions)

    rng = np.random.default_rng(0)
    users = rng.integers(args.users, size=args.events)
    categories = rng.zipf(1.3, size=args.events) % 500
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers, "linger.ms": 20,
                         "batch.num.messages": 10000, "queue.buffering.max.messages": 1_000_000})
    types = ["view"] * 9 + ["cart"]
    for n in range(args.events):
        user = str(users[n])
        producer.produce(events, json.dumps({
            "user_id": user, "item_id": str(n % 50_000), "type": types[n % 10],
            "ts": 1_700_000_000_000 + n * 10, "category": str(categories[n])}).encode(),
            key=user.encode())
        if n % 10_000 == 0:
            producer.poll(0)
    producer.flush(120)

    baseline = run_bounded(args.conf, empty, tag, args.parallelism, args.overrides)
    loaded = run_bounded(args.conf, events, tag, args.parallelism, args.overrides)
    rate = args.events / max(loaded - baseline, 1e-9)
    print(f"{args.events:,} events, {args.users:,} users, parallelism {args.parallelism}: "
          f"job {loaded:.1f} s, empty job {baseline:.1f} s -> {rate:,.0f} events/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
