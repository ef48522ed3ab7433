"""The job running unbounded, as in production: separate event and request topics, item updates
broadcast as they come, a Parquet catalogue, exactly-once output that becomes visible at
checkpoints, and Redis updated while the job runs."""

import itertools
import json
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.integration.harness import JobTopics, OutputFollower, StreamingJob, produce

DEADLINE_S = 180


@pytest.fixture(scope="module")
def streaming_job(services, tmp_path_factory):
    folder = tmp_path_factory.mktemp("streaming-job")
    catalogue = folder / "items.parquet"
    pq.write_table(pa.table({"item_id": ["cat-1"], "category": ["shoes"]}), catalogue)
    topics = JobTopics.fresh(services, input_topics=("events", "requests"), extra={
        "catalogue": {"path": str(catalogue), "update_topic": f"item-updates-{folder.name}"}})
    job = StreamingJob(topics, folder)
    follower = OutputFollower(topics.settings, topics.settings.kafka.output_topic)
    yield topics.settings, job, follower
    follower.close()
    job.stop()


def probe_until(settings, job, follower, request: dict, accept) -> tuple[dict, list[dict]]:
    """Sends the request again and again (new ids) until a list for it satisfies `accept`.

    Topics are read independently, so a request may overtake an event or item update written
    before it: this waits for the effect, with a deadline, instead of sleeping."""
    deadline = time.monotonic() + DEADLINE_S
    seen: list[dict] = []
    for attempt in itertools.count():
        job.assert_running()
        assert time.monotonic() < deadline, f"no accepted list within {DEADLINE_S} s: {seen[-3:]}"
        produce(settings, settings.kafka.input_topics[1],
                [{**request, "request_id": f"{request['request_id']}-{attempt}",
                  "ts": request["ts"] + attempt}])
        seen += [r for r in follower.poll_json(timeout_s=5) if r["user_id"] == request["user_id"]]
        accepted = [r for r in seen if accept(r)]
        if accepted:
            return accepted[0], seen


def item_ids(reranked):
    return [item["item_id"] for item in reranked["items"]]


def test_separate_topics_lists_reflect_a_click_while_the_job_runs(streaming_job, redis_client):
    settings, job, follower = streaming_job
    produce(settings, settings.kafka.input_topics[0], [
        {"user_id": "s1", "item_id": "shoe-9", "type": "click", "ts": 1_000, "category": "shoes"}])
    candidates = [{"item_id": "book-1", "score": 0.9, "category": "books"},
                  {"item_id": "shoe-1", "score": 0.7, "category": "shoes"},
                  {"item_id": "toy-1", "score": 0.5, "category": "toys"}]
    reranked, _ = probe_until(settings, job, follower,
                              {"request_id": "probe", "user_id": "s1", "ts": 2_000, "k": 2,
                               "candidates": candidates},
                              accept=lambda r: not r["cold_start"])
    assert item_ids(reranked) == ["shoe-1", "book-1"]

    # Redis is written before the list is committed to Kafka, so it is there already.
    prefix = settings.redis.key_prefix
    stored = json.loads(redis_client.get(f"{prefix}list:s1"))
    assert stored["request_id"].startswith("probe-")
    assert json.loads(redis_client.get(f"{prefix}profile:s1"))["weights"] == {"category:shoes": 1.0}


def test_features_come_from_the_request_then_item_updates_then_the_catalogue(streaming_job):
    settings, job, follower = streaming_job
    produce(settings, settings.kafka.input_topics[0], [
        {"user_id": "s2", "item_id": "shoe-9", "type": "click", "ts": 1_000, "category": "shoes"}])
    produce(settings, settings.catalogue.update_topic, [
        {"user_id": "-", "item_id": "upd-1", "category": "shoes"}, b"not an item update"])
    candidates = [{"item_id": "book-1", "score": 0.9, "category": "books"},
                  {"item_id": "cat-1", "score": 0.7},        # catalogue: shoes
                  {"item_id": "upd-1", "score": 0.6},        # item update: shoes
                  {"item_id": "nowhere-1", "score": 0.5},    # found nowhere
                  {"item_id": "toy-1", "score": 0.4, "category": "toys"}]
    reranked, seen = probe_until(
        settings, job, follower,
        {"request_id": "features", "user_id": "s2", "ts": 2_000, "k": 5, "candidates": candidates},
        accept=lambda r: any(i["item_id"] == "upd-1" and i["because"] for i in r["items"]))
    # known items: cat-1 .3 + .5, upd-1 .2 + .5, book-1 .5, toy-1 0; nowhere-1 stays 4th
    assert item_ids(reranked) == ["cat-1", "upd-1", "book-1", "nowhere-1", "toy-1"]
    by_id = {item["item_id"]: item for item in reranked["items"]}
    assert by_id["cat-1"]["because"] == [["category:shoes", 1.0]]
    assert (by_id["nowhere-1"]["rank"], by_id["nowhere-1"]["upstream_rank"]) == (4, 4)
    assert "unknown item" in by_id["nowhere-1"]["note"]
