"""The same entry point, unchanged, submitted with `flink run -py` to a standalone Flink cluster.

The local minicluster runs Python functions beside the client's Py4J gateway; a cluster's task
managers have none, which hid a failure (state TTL set-up needed the gateway) until this test.
The cluster is built from the pip package's own Flink (pyflink/bin, lib), with flink-python
copied from opt/ into lib/ as a PyFlink cluster needs, and stopped by its pid files.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pyflink
import pytest

from conf.settings import PROJECT_ROOT
from tests.integration.harness import (TEST_CONF, JobTopics, OutputFollower, produce,
                                       read_committed)

PYFLINK_HOME = Path(pyflink.__file__).parent
VENV_PYTHON = sys.executable


def wait_for_task_slots(rest_port: int, log_dir: Path, timeout_s: float = 120) -> None:
    """Polls the cluster's REST API, with a deadline, until a task manager offers slots."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{rest_port}/overview", timeout=2) as r:
                if json.load(r).get("slots-available", 0) >= 2:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)  # poll interval; the condition above is what is waited for
    logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in log_dir.glob("*.log"))
    raise TimeoutError(f"no Flink task slots on port {rest_port} after {timeout_s} s:\n{logs}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("flink-cluster")
    home = folder / "flink"
    home.mkdir()
    # Real folders holding links to the jars: the scripts find lib/ from their own location and
    # search opt/ with `find`, which does not enter a linked folder.
    shutil.copytree(PYFLINK_HOME / "bin", home / "bin")
    for name in ("lib", "opt"):
        (home / name).mkdir()
        for jar in (PYFLINK_HOME / name).glob("*.jar"):
            (home / name / jar.name).symlink_to(jar)
    for jar in (PYFLINK_HOME / "opt").glob("flink-python-*.jar"):
        (home / "lib" / jar.name).symlink_to(jar)
    conf_dir = folder / "conf"
    shutil.copytree(PYFLINK_HOME / "conf", conf_dir)
    rest_port = free_port()
    (conf_dir / "config.yaml").write_text(
        (conf_dir / "config.yaml").read_text()
        .replace("numberOfTaskSlots: 1", "numberOfTaskSlots: 2")
        .replace("    port: 6123", f"    port: {free_port()}")
        .replace("rest:\n", f"rest:\n  port: {rest_port}\n", 1))
    (folder / "log").mkdir()
    env = {**os.environ, "FLINK_CONF_DIR": str(conf_dir), "FLINK_LOG_DIR": str(folder / "log"),
           "FLINK_PID_DIR": str(folder / "pid"), "FLINK_HOME": str(home)}
    subprocess.run([str(home / "bin" / "start-cluster.sh")], env=env, check=True, timeout=120,
                   capture_output=True)
    try:
        wait_for_task_slots(rest_port, folder / "log")
        yield home, env, rest_port
    finally:
        subprocess.run([str(home / "bin" / "stop-cluster.sh")], env=env, timeout=120,
                       capture_output=True)
    subprocess.run([str(home / "bin" / "stop-cluster.sh")], env=env, timeout=120, capture_output=True)


def test_flink_run_py_submits_the_job_unchanged(cluster, services):
    home, env, rest_port = cluster
    topics = JobTopics.fresh(services)
    produce(topics.settings, topics.settings.kafka.input_topics[0], [
        {"user_id": "c1", "item_id": "x", "type": "click", "ts": 1_000, "category": "shoes"},
        {"request_id": "rc", "user_id": "c1", "ts": 2_000, "k": 3, "candidates": [
            {"item_id": "a", "score": 0.9, "category": "books"},
            {"item_id": "b", "score": 0.7, "category": "shoes"},
            {"item_id": "c", "score": 0.5, "category": "toys"}]}])
    command = [str(home / "bin" / "flink"), "run", "-m", f"localhost:{rest_port}",
               "-py", "jobs/rerank_job.py", "-pyexec", VENV_PYTHON, "-pyclientexec", VENV_PYTHON,
               "--conf", TEST_CONF, "--bounded"]
    for override in topics.overrides:
        command += ["--set", override]
    # The cluster waits for a free task slot: the deadline covers start-up and the job.
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    output = read_committed(topics.settings, topics.settings.kafka.output_topic)
    assert [json.loads(value)["items"][0]["item_id"] for _, value in output] == ["b"]


def flink_cli(home: Path, env: dict, rest_port: int, *args: str) -> str:
    result = subprocess.run([str(home / "bin" / "flink"), *args[:1], "-m", f"localhost:{rest_port}",
                             *args[1:]], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return result.stdout


def test_interest_survives_stop_with_savepoint_and_restore(cluster, services, tmp_path):
    """Stable uids and state names: a user's interest built before a savepoint ranks after it."""
    home, env, rest_port = cluster
    topics = JobTopics.fresh(services)
    settings, input_topic = topics.settings, topics.settings.kafka.input_topics[0]
    candidates = [{"item_id": "a", "score": 0.9, "category": "books"},
                  {"item_id": "b", "score": 0.7, "category": "shoes"},
                  {"item_id": "c", "score": 0.5, "category": "toys"}]
    job_args = ["-py", "jobs/rerank_job.py", "-pyexec", VENV_PYTHON, "-pyclientexec", VENV_PYTHON,
                "--conf", TEST_CONF]
    for override in topics.overrides:
        job_args += ["--set", override]

    produce(settings, input_topic, [
        {"user_id": "sp", "item_id": "x", "type": "click", "ts": 1_000, "category": "shoes"},
        {"request_id": "before", "user_id": "sp", "ts": 2_000, "k": 3, "candidates": candidates}])
    job_id = submit_detached(home, env, rest_port, job_args)
    assert wait_for_list(settings, "before")["cold_start"] is False
    stopped = flink_cli(home, env, rest_port, "stop", "--savepointPath",
                        (tmp_path / "savepoints").as_uri(), job_id)
    savepoint = stopped.split("Savepoint completed. Path:")[-1].split()[0]

    produce(settings, input_topic, [
        {"request_id": "after", "user_id": "sp", "ts": 3_000, "k": 3, "candidates": candidates}])
    # A source restored from an unbounded run stays unbounded: run it detached, then cancel it.
    restored = submit_detached(home, env, rest_port, [*job_args, "--set", "flink.extra_config="
                               + json.dumps({"execution.savepoint.path": savepoint})])
    try:
        after = wait_for_list(settings, "after")
    finally:
        flink_cli(home, env, rest_port, "cancel", restored)
    assert [i["item_id"] for i in after["items"]] == ["b", "a", "c"]
    assert after["cold_start"] is False


def submit_detached(home: Path, env: dict, rest_port: int, job_args: list[str]) -> str:
    submitted = flink_cli(home, env, rest_port, "run", "-d", *job_args)
    return submitted.split("JobID")[-1].split()[0]


def wait_for_list(settings, request_id: str, timeout_s: float = 180) -> dict:
    """The committed list answering `request_id`, waited for with a deadline."""
    follower = OutputFollower(settings, settings.kafka.output_topic)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for reranked in follower.poll_json(timeout_s=2):
                if reranked["request_id"] == request_id:
                    return reranked
        raise AssertionError(f"no list for {request_id} within {timeout_s} s")
    finally:
        follower.close()
