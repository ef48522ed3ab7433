"""The real job on the local minicluster, reading and writing the real Kafka broker and Redis."""

import base64
import json

import pytest

from state_schemas.records import validator
from tests.integration.harness import JobTopics, produce, read_committed, run_bounded_job

CANDIDATES = [
    {"item_id": "book-1", "score": 0.9, "category": "books"},
    {"item_id": "hat-1", "score": 0.8, "category": "hats"},
    {"item_id": "shoe-1", "score": 0.7, "category": "shoes"},
    {"item_id": "hat-2", "score": 0.55, "category": "hats", "brand": "acme"},
    {"item_id": "toy-1", "score": 0.5, "category": "toys"},
]
UPSTREAM_ORDER = ["book-1", "hat-1", "shoe-1", "hat-2", "toy-1"]


def request(request_id, user_id, ts, k=5):
    return {"request_id": request_id, "user_id": user_id, "ts": ts, "k": k, "candidates": CANDIDATES}


def event(user_id, item_id, type, ts, **attributes):
    return {"user_id": user_id, "item_id": item_id, "type": type, "ts": ts, **attributes}


BAD_RECORDS = {
    b"this is not json": "not JSON",
    b'{"user_id": "bad", "item_id": "x", "type": "view", "ts": "yesterday"}': "ts must be integer",
    b'{"user_id": "bad", "type": "view", "ts": 5}': "missing required field(s) item_id",
    b'{"user_id": "bad", "item_id": "x", "type": "teleport", "ts": 5}': "type must be one of",
    b"\xff\xfe\x00garbage": "not UTF-8 text",
}

# One mixed topic, so each user's events and requests are read in the order they were written.
RECORDS = [
    request("r-cold", "cold", 1_000),
    request("r-before", "clicker", 500),
    list(BAD_RECORDS)[0],
    event("clicker", "shoe-9", "click", 1_000, category="shoes"),
    list(BAD_RECORDS)[1],
    request("r-after", "clicker", 2_000),
    event("buyer", "hat-7", "purchase", 1_000, category="hats", brand="acme"),
    list(BAD_RECORDS)[2],
    event("buyer", "toy-3", "click", 1_000, category="toys"),
    list(BAD_RECORDS)[3],
    list(BAD_RECORDS)[4],
    request("r-buyer", "buyer", 1_000, k=3),
]


@pytest.fixture(scope="module")
def finished_job(services, tmp_path_factory):
    topics = JobTopics.fresh(services)
    produce(topics.settings, topics.settings.kafka.input_topics[0], RECORDS)
    run_bounded_job(topics, tmp_path_factory.mktemp("bounded-job"))
    output = read_committed(topics.settings, topics.settings.kafka.output_topic)
    dead_letters = read_committed(topics.settings, topics.settings.kafka.dead_letter_topic)
    return topics.settings, output, dead_letters


def lists_by_request(output):
    return {json.loads(value)["request_id"]: (key, json.loads(value)) for key, value in output}


def item_ids(reranked):
    return [item["item_id"] for item in reranked["items"]]


def test_every_request_gives_exactly_one_list_keyed_by_user(finished_job):
    _, output, _ = finished_job
    lists = lists_by_request(output)
    assert len(output) == 4
    assert {request_id: key for request_id, (key, _) in lists.items()} == {
        "r-cold": b"cold", "r-before": b"clicker", "r-after": b"clicker", "r-buyer": b"buyer"}
    for _, reranked in lists.values():
        validator("reranked_list")(reranked)


def test_a_user_without_history_keeps_the_upstream_order(finished_job):
    _, reranked = lists_by_request(finished_job[1])["r-cold"]
    assert item_ids(reranked) == UPSTREAM_ORDER
    assert reranked["cold_start"] is True


def test_an_earlier_click_changes_the_order(finished_job):
    lists = lists_by_request(finished_job[1])
    before, after = lists["r-before"][1], lists["r-after"][1]
    assert item_ids(before) == UPSTREAM_ORDER
    # category:shoes weight 1.0: shoe-1 = 0.5 * 0.5 + 0.5 * 1.0 = 0.75 > book-1 = 0.5 * 1.0
    assert item_ids(after) == ["shoe-1", "book-1", "hat-1", "hat-2", "toy-1"]
    shoe = after["items"][0]
    assert (shoe["rank"], shoe["upstream_rank"], shoe["score"]) == (1, 3, 0.75)
    assert shoe["because"] == [["category:shoes", 1.0]]


def test_behaviour_weights_and_dimensions_shape_the_order(finished_job):
    _, reranked = lists_by_request(finished_job[1])["r-buyer"]
    # purchase (4) on hats and acme, click (1) on toys: w = hats 4/9, acme 4/9, toys 1/9.
    # hat-2 matches hats and acme (R = 8/9), hat-1 hats only (R = 4/9); top 3 of 5.
    assert item_ids(reranked) == ["hat-1", "hat-2", "book-1"]
    hat_2 = reranked["items"][1]
    assert hat_2["interest"] == pytest.approx(8 / 9, abs=1e-6)
    assert sorted(hat_2["because"]) == [["brand:acme", pytest.approx(4 / 9, abs=1e-6)],
                                        ["category:hats", pytest.approx(4 / 9, abs=1e-6)]]


def test_bad_records_go_to_the_dead_letter_topic_with_their_reason(finished_job):
    _, _, dead_letters = finished_job
    letters = [json.loads(value) for _, value in dead_letters]
    by_original = {base64.b64decode(letter["original_base64"]): letter for letter in letters}
    assert set(by_original) == set(BAD_RECORDS)
    for original, reason in BAD_RECORDS.items():
        assert reason in by_original[original]["reason"]
        assert by_original[original]["step"] == "parse"
        validator("dead_letter")(by_original[original])


def test_redis_holds_each_users_latest_list_and_profile(finished_job, redis_client):
    settings, output, _ = finished_job
    prefix, ttl = settings.redis.key_prefix, settings.redis.ttl_seconds
    latest = json.loads(redis_client.get(f"{prefix}list:clicker"))
    assert latest["request_id"] == "r-after"
    assert item_ids(latest) == ["shoe-1", "book-1", "hat-1", "hat-2", "toy-1"]
    assert json.loads(redis_client.get(f"{prefix}profile:clicker")) == {
        "user_id": "clicker", "ts": 2_000, "weights": {"category:shoes": 1.0}}
    assert json.loads(redis_client.get(f"{prefix}profile:cold"))["weights"] == {}
    assert sorted(redis_client.keys(f"{prefix}list:*")) == [
        f"{prefix}list:buyer", f"{prefix}list:clicker", f"{prefix}list:cold"]
    assert 0 < redis_client.ttl(f"{prefix}list:buyer") <= ttl
