"""Real Kafka, Redis and Flink for the integration tests: topics, producing, reading, running the job.

Every wait has a deadline; nothing here sleeps to synchronise.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from conf.settings import PROJECT_ROOT, Settings
from infra.local_services import LocalKafka

TEST_CONF = "conf/test.yaml"
JOB_TIMEOUT_S = 300


@dataclass(frozen=True)
class JobTopics:
    """Topics, consumer group, transactional id and Redis prefix owned by one test."""
    settings: Settings
    overrides: tuple[str, ...]

    @classmethod
    def fresh(cls, base: Settings, input_topics: Iterable[str] = ("input",),
              extra: dict[str, dict] | None = None) -> "JobTopics":
        """Fresh topics and prefixes; `extra` overrides more settings ({section: {key: value}})."""
        tag = uuid.uuid4().hex[:8]
        inputs = [f"{name}-{tag}" for name in input_topics]
        kafka = {"input_topics": inputs, "output_topic": f"reranked-{tag}",
                 "dead_letter_topic": f"dead-letters-{tag}", "consumer_group": f"job-{tag}",
                 "transactional_id_prefix": f"tx-{tag}"}
        redis = {"key_prefix": f"t{tag}:"}
        extra = extra or {}
        settings = base.with_overrides(kafka=kafka, redis=redis, **extra)
        overrides = [f"kafka.input_topics=[{','.join(inputs)}]", f'redis.key_prefix="t{tag}:"']
        overrides += [f"kafka.{k}={v}" for k, v in kafka.items() if k != "input_topics"]
        overrides += [f"{section}.{key}={json.dumps(value)}"
                      for section, values in extra.items() for key, value in values.items()]
        LocalKafka(settings).create_topics(settings.topics(), settings.kafka.topic_partitions)
        return cls(settings, tuple(overrides))


def produce(settings: Settings, topic: str, records: Iterable[dict | bytes]) -> int:
    """Writes records in order; JSON records are keyed by user_id so a user's records stay in order."""
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers,
                         "enable.idempotence": True})
    count = 0
    for record in records:
        if isinstance(record, bytes):
            producer.produce(topic, record, key=b"bad")
        else:
            producer.produce(topic, json.dumps(record).encode(), key=str(record["user_id"]).encode())
        count += 1
    if producer.flush(30) != 0:
        raise TimeoutError(f"{topic}: records still unsent after 30 s")
    return count


def read_committed(settings: Settings, topic: str, timeout_s: float = 60) -> list[tuple[bytes | None, bytes]]:
    """Every committed record of a topic, as (key, value), read to the end of each partition."""
    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap_servers,
                         "group.id": f"reader-{uuid.uuid4().hex[:8]}",
                         "isolation.level": "read_committed", "enable.auto.commit": False,
                         "enable.partition.eof": True, "auto.offset.reset": "earliest"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        at_end: set[int] = set()
        records = []
        deadline = time.monotonic() + timeout_s
        while len(at_end) < len(partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: not at the end of every partition after {timeout_s} s")
            message = consumer.poll(1.0)
            if message is None:
                continue
            if message.error():
                if message.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(message.partition())
                    continue
                raise RuntimeError(f"{topic}: {message.error()}")
            records.append((message.key(), message.value()))
        return records
    finally:
        consumer.close()


class OutputFollower:
    """Reads a topic's committed records as they arrive, for a job that keeps running."""

    def __init__(self, settings: Settings, topic: str):
        self.consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap_servers,
                                  "group.id": f"follower-{uuid.uuid4().hex[:8]}",
                                  "isolation.level": "read_committed",
                                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        partitions = self.consumer.list_topics(topic, timeout=10).topics[topic].partitions
        self.consumer.assign([TopicPartition(topic, p, 0) for p in partitions])

    def poll_json(self, timeout_s: float) -> list[dict]:
        found, deadline = [], time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            message = self.consumer.poll(0.5)
            if message is not None and not message.error():
                found.append(json.loads(message.value()))
        return found

    def close(self):
        self.consumer.close()


def _job_command(topics: JobTopics, bounded: bool) -> list[str]:
    command = [sys.executable, "-m", "jobs.rerank_job", "--conf", TEST_CONF]
    for override in topics.overrides:
        command += ["--set", override]
    return command + (["--bounded"] if bounded else [])


def _job_env(log_dir: Path) -> dict[str, str]:
    log_dir.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "FLINK_LOG_DIR": str(log_dir)}


def run_bounded_job(topics: JobTopics, log_dir: Path) -> None:
    """Runs the job over everything in its input topics now, and returns when it has finished."""
    log_file = log_dir / "job.out"
    with open(_ensure(log_file), "wb") as log:
        result = subprocess.run(_job_command(topics, bounded=True), cwd=PROJECT_ROOT, stdout=log,
                                stderr=subprocess.STDOUT, env=_job_env(log_dir), timeout=JOB_TIMEOUT_S)
    if result.returncode != 0:
        raise AssertionError(f"job failed with exit code {result.returncode}:\n{_tail(log_file)}")


class StreamingJob:
    """The job running unbounded in its own process group; stop() ends the group (by pid)."""

    def __init__(self, topics: JobTopics, log_dir: Path):
        self.log_file = _ensure(log_dir / "job.out")
        self._log = open(self.log_file, "wb")
        self.process = subprocess.Popen(_job_command(topics, bounded=False), cwd=PROJECT_ROOT,
                                        stdout=self._log, stderr=subprocess.STDOUT,
                                        env=_job_env(log_dir), start_new_session=True)

    def assert_running(self):
        if self.process.poll() is not None:
            raise AssertionError(f"job exited with {self.process.returncode}:\n{_tail(self.log_file)}")

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self._log.close()


def _ensure(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _tail(path: Path, lines: int = 60) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
