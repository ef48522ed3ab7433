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
import time
import urllib.error
import urllib.request
from pathlib import Path

import pyflink
import pytest

from conf.settings import PROJECT_ROOT
from tests.integration.harness import TEST_CONF, JobTopics, produce, read_committed

PYFLINK_HOME = Path(pyflink.__file__).parent
VENV_PYTHON = str(Path(os.sys.executable))


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
