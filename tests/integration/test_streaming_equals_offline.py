"""The Flink job and the offline evaluator rank every request identically, item by item."""

import json

import pytest

from jobs.evaluate import event_json, protocol_records, request_json, reranker_model
from jobs.sample_data import generate_rows
from state_schemas.records import BehaviourEvent
from tests.integration.harness import JobTopics, produce, read_committed, run_bounded_job
from udfs.user_model import DictUserState

# The full reranker: decay, recency, purchase demotion, MMR diversity and re-rank on event.
RERANKER = {
    "interest": {"dimensions": ["category"], "half_life_ms": 3_600_000, "recent_items": 20},
    "scoring": {"interest_weight": 0.9, "recency_weight": 1.0, "recency_half_life_ms": 600_000,
                "purchased_demotion_ms": 86_400_000, "purchased_demotion_factor": 0.3},
    "diversity": {"method": "mmr", "mmr_lambda": 0.8, "similarity_scale": 0.9},
    "rerank_on_event": {"enabled": True, "min_interval_ms": 60_000},
}


@pytest.fixture(scope="module")
def replay(services, tmp_path_factory):
    topics = JobTopics.fresh(services, extra=RERANKER)
    log = generate_rows(users=12, items=300, categories=25, days=1, seed=11)
    records = list(protocol_records(log, ("category",), candidates=20, seed=0))
    produce(topics.settings, topics.settings.kafka.input_topics[0],
            [event_json(r) if isinstance(r, BehaviourEvent) else request_json(r.request)
             for r in records])
    run_bounded_job(topics, tmp_path_factory.mktemp("equality-job"))
    output = [json.loads(value) for _, value in
              read_committed(topics.settings, topics.settings.kafka.output_topic)]
    return topics.settings, records, output


def offline_lists(settings, records):
    model, states, lists = reranker_model(settings), {}, {}
    for record in records:
        if isinstance(record, BehaviourEvent):
            model.on_event(states.setdefault(record.user_id, DictUserState()), record)
        else:
            request = record.request
            ranked, _ = model.on_request(states.setdefault(request.user_id, DictUserState()), request)
            lists[request.request_id] = [(i.item_id, round(i.score, 6)) for i in ranked.items]
    return lists


def test_every_request_is_ranked_as_the_evaluator_ranks_it(replay):
    settings, records, output = replay
    offline = offline_lists(settings, records)
    streamed = {r["request_id"]: [(i["item_id"], i["score"]) for i in r["items"]]
                for r in output if r["trigger"] == "request"}
    assert len(offline) > 50
    assert streamed.keys() == offline.keys()
    for request_id, items in offline.items():
        assert streamed[request_id] == items, request_id


def test_events_rerank_the_last_list_rate_limited(replay):
    _, _, output = replay
    by_user: dict[str, list[int]] = {}
    for reranked in output:
        if reranked["trigger"] == "event":
            by_user.setdefault(reranked["user_id"], []).append(reranked["ts"])
    assert by_user, "no list was re-ranked on an event"
    for times in by_user.values():
        assert all(later - earlier >= 60_000 for earlier, later in zip(sorted(times), sorted(times)[1:]))
