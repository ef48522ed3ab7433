"""Kafka-in to Redis latency: from producing a rerank request to its list being readable in Redis.

    python -m bench.redis_latency [--conf conf/local.yaml] [--requests 300] [--candidates 100]

Starts the local Kafka and Redis if needed and the job (unbounded) on fresh topics, then sends
requests one at a time, each for a user with some history, and polls Redis for the answer
(every 0.5 ms). Prints p50, p99 and max in ms. One request in flight: this is latency without
load. Stops what it started.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid

import numpy as np
import redis
from confluent_kafka import Producer

from conf.settings import PROJECT_ROOT, load_settings
from infra import local_services

DEADLINE_S = 180


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conf", default="conf/local.yaml")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--candidates", type=int, default=100)
    args = parser.parse_args(argv)
    settings = load_settings(args.conf)
    with local_services.running(settings):
        return _measure(args, settings)


def _measure(args, settings) -> int:
    tag = uuid.uuid4().hex[:6]
    topics = [f"lat-in-{tag}", f"lat-out-{tag}", f"lat-dlq-{tag}"]
    local_services.LocalKafka(settings).create_topics(topics, settings.kafka.topic_partitions)
    prefix = f"lat{tag}:"
    log = open(settings.run_dir / f"bench-latency-{tag}.log", "wb")
    job = subprocess.Popen(
        [sys.executable, "-m", "jobs.rerank_job", "--conf", args.conf,
         "--set", f"kafka.input_topics=[{topics[0]}]", "--set", f"kafka.output_topic={topics[1]}",
         "--set", f"kafka.dead_letter_topic={topics[2]}", "--set", f"kafka.consumer_group=lat-{tag}",
         "--set", f"kafka.transactional_id_prefix=lat-{tag}", "--set", f'redis.key_prefix="{prefix}"',
         "--set", "kafka.starting_offsets=earliest", "--set", 'catalogue.update_topic=""'],
        cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    client = redis.Redis(host=settings.redis.host, port=settings.redis.port, db=settings.redis.db)
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers, "linger.ms": 0})
    rng = np.random.default_rng(0)

    def send(records):
        for record in records:
            producer.produce(topics[0], json.dumps(record).encode(), key=record["user_id"].encode())
        producer.flush(10)

    def request(user: str, request_id: str) -> dict:
        return {"request_id": request_id, "user_id": user, "ts": 10_000_000, "k": 10, "candidates": [
            {"item_id": str(i), "score": float(rng.random()), "category": str(rng.integers(40))}
            for i in rng.choice(5000, size=args.candidates, replace=False)]}

    def wait_for(user: str, request_id: str, deadline_s: float, started: float) -> float:
        """Milliseconds from `started` until the user's list in Redis answers request_id."""
        key = f"{prefix}list:{user}"
        while time.perf_counter() - started < deadline_s:
            value = client.get(key)
            if value is not None and json.loads(value)["request_id"] == request_id:
                return (time.perf_counter() - started) * 1000
            time.sleep(0.0005)  # polling interval of the measurement, not synchronisation
        raise TimeoutError(f"no list for {request_id} in Redis after {deadline_s} s")

    try:
        users = [f"u{n}" for n in range(args.requests)]
        send([{"user_id": u, "item_id": str(i), "type": "view", "ts": 1_000 * i,
               "category": str(rng.integers(40))} for u in users for i in range(20)])
        send([request("warm-up", "warm-up")])
        wait_for("warm-up", "warm-up", DEADLINE_S, time.perf_counter())
        timings = []
        for n, user in enumerate(users):
            record = request(user, f"r{n}")
            started = time.perf_counter()
            send([record])
            timings.append(wait_for(user, f"r{n}", 30, started))
        p50, p99 = np.percentile(timings, [50, 99])
        print(f"{args.requests} requests of {args.candidates} candidates, one in flight: Kafka-in to "
              f"Redis p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(timings):.1f} ms")
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGTERM)
            job.wait(timeout=60)
        log.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
