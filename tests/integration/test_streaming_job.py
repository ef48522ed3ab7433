"""The job running unbounded, as in production: separate event and request topics, exactly-once
output that becomes visible at checkpoints, and Redis updated while the job runs."""

import itertools
import json
import time

import pytest

from tests.integration.harness import JobTopics, OutputFollower, StreamingJob, produce

DEADLINE_S = 180
CANDIDATES = [{"item_id": "book-1", "score": 0.9, "category": "books"},
              {"item_id": "shoe-1", "score": 0.7, "category": "shoes"},
              {"item_id": "toy-1", "score": 0.5, "category": "toys"}]


@pytest.fixture
def streaming_job(services, tmp_path):
    topics = JobTopics.fresh(services, input_topics=("events", "requests"))
    job = StreamingJob(topics, tmp_path)
    follower = OutputFollower(topics.settings, topics.settings.kafka.output_topic)
    yield topics.settings, job, follower
    follower.close()
    job.stop()


def test_separate_topics_lists_reflect_a_click_while_the_job_runs(streaming_job, redis_client):
    settings, job, follower = streaming_job
    events_topic, requests_topic = settings.kafka.input_topics
    produce(settings, events_topic, [{"user_id": "s1", "item_id": "shoe-9", "type": "click",
                                      "ts": 1_000, "category": "shoes"}])
    # Two topics are read independently, so a request may overtake the click: send one request
    # after another until a list shows the click, within a deadline.
    deadline = time.monotonic() + DEADLINE_S
    seen = []
    for attempt in itertools.count():
        job.assert_running()
        assert time.monotonic() < deadline, f"no list reflected the click in {DEADLINE_S} s: {seen}"
        produce(settings, requests_topic, [{"request_id": f"probe-{attempt}", "user_id": "s1",
                                            "ts": 2_000 + attempt, "k": 2, "candidates": CANDIDATES}])
        seen += follower.poll_json(timeout_s=5)
        if any(not reranked["cold_start"] for reranked in seen):
            break
    reranked = next(r for r in seen if not r["cold_start"])
    assert [item["item_id"] for item in reranked["items"]] == ["shoe-1", "book-1"]

    # Redis is written before the list is committed to Kafka, so it is there already.
    prefix = settings.redis.key_prefix
    stored = json.loads(redis_client.get(f"{prefix}list:s1"))
    assert stored["request_id"].startswith("probe-")
    assert json.loads(redis_client.get(f"{prefix}profile:s1"))["weights"] == {"category:shoes": 1.0}
