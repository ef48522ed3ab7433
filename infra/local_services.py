"""Start and stop the local Kafka broker (KRaft) and Redis server used by `make run` and the tests.

    python -m infra.local_services start  --conf conf/local.yaml
    python -m infra.local_services stop   --conf conf/local.yaml
    python -m infra.local_services status --conf conf/local.yaml

Ports, topics and the run folder come from the same conf file as the job, so that the job and its
services cannot disagree. Everything lives under the run folder (git-ignored): data, logs and one
pid file per process. Starting is idempotent and waits until each service answers; stopping ends
only a process whose pid file this module wrote, and only if that pid still runs our command.
"""

from __future__ import annotations

import argparse
import base64
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from conf.settings import Settings, load_settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
KAFKA_JARS = PROJECT_ROOT / "infra" / "jars" / "kafka"
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0


class ServiceError(RuntimeError):
    """A local service could not be started or stopped; the message says which and where to look."""


@dataclass(frozen=True)
class ManagedProcess:
    name: str
    pid_file: Path
    log_file: Path
    marker: str  # a string that must appear in /proc/<pid>/cmdline for the pid to be ours

    def running_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None
        return pid if self.marker in cmdline else None

    def spawn(self, argv: list[str]) -> int:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid_file.write_text(str(process.pid))
        return process.pid

    def stop(self) -> bool:
        pid = self.running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        if not _wait_until(lambda: self.running_pid() is None or _is_zombie(pid), STOP_TIMEOUT_S):
            os.kill(pid, signal.SIGKILL)
            _wait_until(lambda: self.running_pid() is None or _is_zombie(pid), 10.0)
        self.pid_file.unlink(missing_ok=True)
        return True


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _wait_until(condition, timeout_s: float, interval_s: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval_s)
    return condition()


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


class LocalRedis:
    def __init__(self, settings: Settings):
        self.host, self.port = settings.redis.host, settings.redis.port
        self.folder = settings.run_dir / "redis"
        self.process = ManagedProcess("redis", self.folder / "redis.pid", self.folder / "redis.log",
                                      marker=f"redis-server {self.host}:{self.port}")

    def ready(self) -> bool:
        import redis
        try:
            return bool(redis.Redis(host=self.host, port=self.port, socket_timeout=1).ping())
        except redis.exceptions.ConnectionError:
            return False

    def start(self) -> str:
        if self.process.running_pid() is not None and self.ready():
            return f"redis already running on {self.host}:{self.port}"
        if self.ready():
            return f"redis already answering on {self.host}:{self.port} (not started by us)"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process.spawn(["redis-server", "--bind", self.host, "--port", str(self.port),
                            "--dir", str(self.folder), "--save", "", "--appendonly", "no",
                            "--daemonize", "no"])
        if not _wait_until(self.ready, START_TIMEOUT_S):
            raise ServiceError(f"redis did not answer on {self.host}:{self.port} within "
                               f"{START_TIMEOUT_S:.0f}s; see {self.process.log_file}")
        return f"redis started on {self.host}:{self.port}"


class LocalKafka:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.host, self.port = _host_port(settings.kafka.bootstrap_servers.split(",")[0])
        self.controller_port = self.port + 1
        self.folder = settings.run_dir / "kafka"
        self.properties = self.folder / "server.properties"
        self.process = ManagedProcess("kafka", self.folder / "kafka.pid", self.folder / "kafka.out",
                                      marker=str(self.properties))

    def _write_config(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.properties.write_text("\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@{self.host}:{self.controller_port}",
            f"listeners=PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:{self.controller_port}",
            f"advertised.listeners=PLAINTEXT://{self.host}:{self.port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={self.folder / 'data'}",
            "num.partitions=1",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=4",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "transaction.state.log.num.partitions=4",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=false",
            # Flink's exactly-once sink keeps transactions open for up to a checkpoint interval.
            "transaction.max.timeout.ms=900000",
            "",
        ]))
        (self.folder / "log4j2.properties").write_text("\n".join([
            "rootLogger.level=WARN",
            "rootLogger.appenderRef.file.ref=file",
            "appender.file.type=File",
            "appender.file.name=file",
            f"appender.file.fileName={self.folder / 'server.log'}",
            "appender.file.layout.type=PatternLayout",
            "appender.file.layout.pattern=[%d] %p %m (%c)%n",
            "logger.kafka.name=kafka",
            "logger.kafka.level=INFO",
            "",
        ]))

    def _java(self, main_class: str, *args: str) -> list[str]:
        if not any(KAFKA_JARS.glob("kafka_2.13-*.jar")):
            raise ServiceError(f"no Kafka jars in {KAFKA_JARS}: run `make install` first")
        return ["java", "-Xms256m", "-Xmx768m", "-XX:+UseG1GC",
                f"-Dlog4j2.configurationFile={self.folder / 'log4j2.properties'}",
                "-cp", f"{KAFKA_JARS}/*", main_class, *args]

    def _format_storage_once(self) -> None:
        if (self.folder / "data" / "meta.properties").exists():
            return
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        result = subprocess.run(self._java("kafka.tools.StorageTool", "format", "-t", cluster_id,
                                           "-c", str(self.properties)),
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise ServiceError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")

    def admin(self):
        from confluent_kafka.admin import AdminClient
        return AdminClient({"bootstrap.servers": f"{self.host}:{self.port}"})

    def ready(self) -> bool:
        from confluent_kafka import KafkaException
        try:  # a plain connect first: the Kafka client logs every refused connection
            socket.create_connection((self.host, self.port), timeout=1).close()
            self.admin().list_topics(timeout=5)
            return True
        except (OSError, KafkaException):
            return False

    def start(self) -> str:
        if self.process.running_pid() is not None and self.ready():
            return f"kafka already running on {self.host}:{self.port}"
        if self.ready():
            return f"kafka already answering on {self.host}:{self.port} (not started by us)"
        self._write_config()
        self._format_storage_once()
        self.process.spawn(self._java("kafka.Kafka", str(self.properties)))
        if not _wait_until(lambda: self.process.running_pid() is not None and self.ready(),
                           START_TIMEOUT_S, interval_s=0.5):
            self.process.stop()
            raise ServiceError(f"kafka did not answer on {self.host}:{self.port} within "
                               f"{START_TIMEOUT_S:.0f}s; see {self.folder / 'server.log'} "
                               f"and {self.process.log_file}")
        return f"kafka started on {self.host}:{self.port}"

    def create_topics(self, topics: list[str], partitions: int) -> list[str]:
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import NewTopic
        admin = self.admin()
        existing = set(admin.list_topics(timeout=10).topics)
        wanted = [t for t in dict.fromkeys(topics) if t not in existing]
        if not wanted:
            return []
        futures = admin.create_topics([NewTopic(t, num_partitions=partitions, replication_factor=1)
                                       for t in wanted], operation_timeout=30)
        for topic, future in futures.items():
            try:
                future.result(timeout=60)
            except KafkaException as error:
                if "TOPIC_ALREADY_EXISTS" not in str(error):
                    raise ServiceError(f"creating topic {topic!r} failed: {error}") from error
        return wanted


def start(settings: Settings) -> list[str]:
    kafka = LocalKafka(settings)
    messages = [LocalRedis(settings).start(), kafka.start()]
    created = kafka.create_topics(settings.topics(), settings.kafka.topic_partitions)
    if created:
        messages.append(f"created topics {', '.join(created)} "
                        f"({settings.kafka.topic_partitions} partitions)")
    return messages


@contextmanager
def running(settings: Settings, report: Callable[[str], None] = lambda line: None) -> Iterator[None]:
    """Kafka and Redis for `settings` while the block runs; on exit, stops only those it started."""
    services = [LocalKafka(settings), LocalRedis(settings)]
    started_here = [s for s in services if s.process.running_pid() is None and not s.ready()]
    for line in start(settings):
        report(line)
    try:
        yield
    finally:
        for service in started_here:
            service.process.stop()
            report(f"stopped {service.process.name}")


def stop(settings: Settings) -> list[str]:
    messages = []
    for service in (LocalKafka(settings), LocalRedis(settings)):
        stopped = service.process.stop()
        messages.append(f"{service.process.name} {'stopped' if stopped else 'was not running (by us)'}")
    return messages


def status(settings: Settings) -> list[str]:
    lines = []
    for service in (LocalKafka(settings), LocalRedis(settings)):
        pid = service.process.running_pid()
        lines.append(f"{service.process.name}: "
                     f"{'running, pid ' + str(pid) if pid else 'not started by us'}, "
                     f"{'answering' if service.ready() else 'not answering'}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--conf", default="conf/local.yaml", help="settings file (ports, topics, run dir)")
    args = parser.parse_args(argv)
    settings = load_settings(args.conf)
    try:
        for line in {"start": start, "stop": stop, "status": status}[args.action](settings):
            print(line)
    except ServiceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
