"""`make run`: the whole system on one machine, with output a person can read.

Starts the local Kafka and Redis (unless running), creates the topics, starts the job on the local
minicluster, replays the seeded sample (behaviour events plus rerank requests made from it, and a
few malformed records to show the dead-letter path), and prints reranked lists as they arrive.
Ctrl-C, or the end of --duration, stops what this command started and prints a summary.

    python -m jobs.run_local --conf conf/local.yaml [--duration 60] [--rate 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

import redis
from confluent_kafka import Consumer, Producer, TopicPartition

from conf.settings import PROJECT_ROOT, Settings, SettingsError, load_settings
from infra import local_services
from jobs.sample_data import generate_rows, read_userbehavior_csv, replay_records, write_userbehavior_csv

MALFORMED_SAMPLES = [b'{"user_id": "42", "item_id": "1", "type": "teleport", "ts": 1}',
                     b"not json at all",
                     b'{"request_id": "r", "user_id": "42", "ts": 1, "k": 0, "candidates": []}']
LISTS_SHOWN_PER_SECOND = 1.0
ITEMS_SHOWN = 5


class Replay(threading.Thread):
    """Produces the sample to the input topic at a steady rate, keyed by user."""

    def __init__(self, settings: Settings, records: list[dict], rate: float):
        super().__init__(daemon=True, name="replay")
        self.settings, self.records, self.rate = settings, records, rate
        self.sent_events = self.sent_requests = self.sent_malformed = 0
        self.stopping = threading.Event()

    def run(self):
        topic = self.settings.kafka.input_topics[0]
        producer = Producer({"bootstrap.servers": self.settings.kafka.bootstrap_servers,
                             "linger.ms": 5, "enable.idempotence": True})
        started = time.monotonic()
        malformed_at = {len(self.records) * (i + 1) // (len(MALFORMED_SAMPLES) + 1): raw
                        for i, raw in enumerate(MALFORMED_SAMPLES)}
        for index, record in enumerate(self.records):
            if self.stopping.is_set():
                break
            if index in malformed_at:
                producer.produce(topic, malformed_at[index])
                self.sent_malformed += 1
            producer.produce(topic, json.dumps(record).encode(), key=record["user_id"].encode())
            if "request_id" in record:
                self.sent_requests += 1
            else:
                self.sent_events += 1
            producer.poll(0)
            ahead_s = (index + 1) / self.rate - (time.monotonic() - started)
            if ahead_s > 0:
                self.stopping.wait(ahead_s)  # pacing, not synchronisation
        producer.flush(30)

    @property
    def sent(self) -> int:
        return self.sent_events + self.sent_requests + self.sent_malformed


def _consumer_at_end(settings: Settings, topic: str) -> tuple[Consumer, dict[int, int]]:
    """A read_committed consumer of `topic` placed at its current end: only this run's records."""
    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap_servers,
                         "group.id": f"run-local-viewer-{os.getpid()}",
                         "isolation.level": "read_committed", "enable.auto.commit": False})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
    consumer.assign([TopicPartition(topic, p, offset) for p, offset in ends.items()])
    return consumer, ends


def _input_offsets(settings: Settings, committed: bool) -> dict[tuple[str, int], int]:
    """Per input partition: the job's committed offset (committed=True), or the current end."""
    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap_servers,
                         "group.id": settings.kafka.consumer_group, "enable.auto.commit": False})
    try:
        partitions = [TopicPartition(topic, p) for topic in settings.kafka.input_topics
                      for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions]
        if committed:
            return {(tp.topic, tp.partition): tp.offset
                    for tp in consumer.committed(partitions, timeout=10) if tp.offset >= 0}
        return {(tp.topic, tp.partition): consumer.get_watermark_offsets(tp, timeout=10)[1]
                for tp in partitions}
    finally:
        consumer.close()


def format_list(reranked: dict) -> str:
    when = datetime.fromtimestamp(reranked["ts"] / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
    why_header = ("cold start: no history yet, upstream order kept" if reranked["cold_start"]
                  else f"interest in {reranked['profile_dimensions']} dimensions")
    trigger = ("re-ranked after a new event" if reranked.get("trigger") == "event"
               else f"request {reranked['request_id']}")
    lines = [f"── user {reranked['user_id']} · {trigger} · {when} UTC · {why_header}"]
    for item in reranked["items"][:ITEMS_SHOWN]:
        moved = item["upstream_rank"] - item["rank"]
        arrow = f"↑{moved}" if moved > 0 else (f"↓{-moved}" if moved < 0 else "=")
        because = ", ".join(f"{key} {weight:.2f}" for key, weight in item["because"]) or "-"
        note = f"; {item['note']}" if item.get("note") and not reranked["cold_start"] else ""
        lines.append(f"   {item['rank']:>2}. item {item['item_id']:<10} {arrow:<4} "
                     f"(upstream #{item['upstream_rank']:<3}) score {item['score']:.3f}  "
                     f"upstream {item['upstream_norm']:.2f} · interest {item['interest_norm']:.2f}"
                     f"   because: {because}{note}")
    hidden = len(reranked["items"]) - ITEMS_SHOWN
    if hidden > 0:
        lines.append(f"       … and {hidden} more")
    return "\n".join(lines)


def _sample_records(settings: Settings) -> list[dict]:
    path = settings.run_dir / "sample" / "userbehavior_generated.csv"
    if not path.exists():
        write_userbehavior_csv(generate_rows(), path)
    return list(replay_records(read_userbehavior_csv(path)))


def _stop_process_group(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def run(settings: Settings, conf_path: str, duration_s: float | None, rate: float) -> int:
    """Runs the demo with Kafka and Redis, leaving running what was running before."""
    with local_services.running(settings, report=lambda line: print(f"[services] {line}")):
        return _run_job_and_replay(settings, conf_path, duration_s, rate)


def _run_job_and_replay(settings: Settings, conf_path: str, duration_s: float | None,
                        rate: float) -> int:
    records = _sample_records(settings)
    # Each run reads only what it sends: its own consumer group, starting at the run's start time
    # (the job's state is not carried over between runs, so older input would be read without it).
    run_started_ms = int(time.time() * 1000)
    run_kafka = {"consumer_group": f"{settings.kafka.consumer_group}-run-{run_started_ms}",
                 "starting_offsets": f"timestamp:{run_started_ms}"}
    settings = settings.with_overrides(kafka=run_kafka)
    output, _ = _consumer_at_end(settings, settings.kafka.output_topic)
    dead_letters, _ = _consumer_at_end(settings, settings.kafka.dead_letter_topic)
    input_ends_before = _input_offsets(settings, committed=False)

    log_path = settings.run_dir / "job.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")
    env = {**os.environ, "FLINK_LOG_DIR": str(settings.run_dir / "flink-logs")}
    job = subprocess.Popen([sys.executable, "-m", "jobs.rerank_job", "--conf", conf_path,
                            *[arg for key, value in run_kafka.items()
                              for arg in ("--set", f"kafka.{key}={value}")]],
                           cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env,
                           start_new_session=True)
    print(f"[job] started on the local minicluster (pid {job.pid}); log: {log_path}")
    replay = Replay(settings, records, rate)
    replay.start()
    print(f"[replay] sending {len(records):,} sample records to "
          f"{settings.kafka.input_topics[0]} at {rate:,.0f}/s, plus {len(MALFORMED_SAMPLES)} "
          f"malformed ones; reranked lists appear as checkpoints commit them "
          f"(every {settings.flink.checkpoint_interval_ms / 1000:g} s)")

    started = time.monotonic()
    received = {"request": 0, "event": 0}
    dead = shown = 0
    last_shown = 0.0
    next_status = started + 10
    exit_code = 0
    try:
        while duration_s is None or time.monotonic() - started < duration_s:
            if job.poll() is not None:
                print(f"[job] exited with code {job.returncode}; last lines of {log_path}:")
                print("\n".join(log_path.read_text(errors="replace").splitlines()[-30:]))
                exit_code = 1
                break
            message = output.poll(0.2)
            if message is not None and not message.error():
                reranked = json.loads(message.value())
                received[reranked["trigger"]] += 1
                # Lists arrive in bursts, one per checkpoint: show about one a second, so that
                # the screen samples many users rather than one user's burst.
                if time.monotonic() - last_shown >= 1.0 / LISTS_SHOWN_PER_SECOND:
                    print(format_list(reranked), flush=True)
                    shown += 1
                    last_shown = time.monotonic()
            for letter in dead_letters.consume(num_messages=100, timeout=0):
                if not letter.error():
                    dead += 1
                    print(f"[dead letter] {json.loads(letter.value())['reason']}")
            if time.monotonic() >= next_status:
                next_status += 10
                print(f"[status] {time.monotonic() - started:.0f} s: sent {replay.sent:,} records, "
                      f"received {sum(received.values()):,} reranked lists ({shown} shown), "
                      f"{dead} dead letters",
                      flush=True)
    except KeyboardInterrupt:
        print("\n[stop] Ctrl-C")
    finally:
        replay.stopping.set()
        read_after = _input_offsets(settings, committed=True)
        _stop_process_group(job)
        log.close()
        output.close()
        dead_letters.close()
        replay.join(timeout=30)
        client = redis.Redis(host=settings.redis.host, port=settings.redis.port, db=settings.redis.db,
                             password=settings.redis.password)
        lists_in_redis = sum(1 for _ in client.scan_iter(f"{settings.redis.key_prefix}list:*", count=1000))
        client.close()
        read = sum(offset - input_ends_before.get(tp, 0) for tp, offset in read_after.items())
        print("\n[summary]")
        print(f"  records sent            {replay.sent:>8,}  ({replay.sent_events:,} events, "
              f"{replay.sent_requests:,} requests, {replay.sent_malformed} malformed)")
        print(f"  records read by the job {read:>8,}  (input offsets committed at its last checkpoint)")
        print(f"  requests reranked       {received['request']:>8,}  "
              f"(lists committed to {settings.kafka.output_topic})")
        print(f"  lists re-ranked on event{received['event']:>8,}  (trigger: event)")
        print(f"  lists in Redis          {lists_in_redis:>8,}  (keys {settings.redis.key_prefix}list:*)")
        print(f"  dead letters            {dead:>8,}  (records on {settings.kafka.dead_letter_topic})")
    return exit_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conf", default="conf/local.yaml")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--rate", type=float, default=2000.0, help="sample records sent per second")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.conf)
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if len(settings.kafka.input_topics) != 1:
        print("error: make run replays into one mixed input topic; "
              f"{args.conf} names {len(settings.kafka.input_topics)}", file=sys.stderr)
        return 2
    return run(settings, args.conf, args.duration, args.rate)


if __name__ == "__main__":
    raise SystemExit(main())
