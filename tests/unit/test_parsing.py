import base64
import json

import pytest

from state_schemas.records import BehaviourEvent, DeadLetter, RerankRequest, validator
from udfs.parsing import RecordParser

parser = RecordParser(["category", "brand"])


def raw(record) -> bytes:
    return json.dumps(record).encode()


EVENT = {"user_id": 7, "item_id": "i9", "type": "click", "ts": 1_000, "category": 12, "brand": "acme"}
REQUEST = {"request_id": "r1", "user_id": "u7", "ts": 2_000, "k": 2,
           "candidates": [{"item_id": 1, "score": 0.5, "category": 12},
                          {"item_id": 2, "score": 1, "features": {"brand:acme": 0.5}}]}


def test_event_becomes_a_behaviour_event_with_interest_keys():
    assert parser.parse(raw(EVENT)) == BehaviourEvent("7", "i9", "click", 1_000,
                                                      ("category:12", "brand:acme"))


def test_request_becomes_a_rerank_request_with_features():
    request = parser.parse(raw(REQUEST))
    assert isinstance(request, RerankRequest)
    assert (request.request_id, request.user_id, request.ts_ms, request.k) == ("r1", "u7", 2_000, 2)
    assert [c.features for c in request.candidates] == [{"category:12": 1.0}, {"brand:acme": 0.5}]
    assert [c.upstream_score for c in request.candidates] == [0.5, 1.0]


def test_explicit_features_win_over_attributes():
    record = {**REQUEST, "candidates": [{"item_id": 1, "score": 1, "category": 3,
                                         "features": {"category:3": 0.25}}]}
    assert parser.parse(raw(record)).candidates[0].features == {"category:3": 0.25}


@pytest.mark.parametrize("payload, reason", [
    (b"not json", "not JSON: Expecting value at line 1 column 1"),
    (b"\xff\xfe{}", "not UTF-8 text"),
    (b"[1, 2]", "not a JSON object but a list"),
    (raw({**EVENT, "type": "teleport"}), "invalid behaviour event: type must be one of"),
    (raw({**EVENT, "ts": "1000"}), "invalid behaviour event: ts must be integer"),
    (raw({k: v for k, v in EVENT.items() if k != "user_id"}),
     "invalid behaviour event: missing required field(s) user_id"),
    (raw({**REQUEST, "k": 0}), "invalid rerank request: k must be bigger than or equal to 1"),
    (raw({**REQUEST, "candidates": [{"item_id": 1}]}),
     "invalid rerank request: candidates[0]: missing required field(s) score"),
    (raw({**REQUEST, "candidates": [{"item_id": 1, "score": "high"}]}),
     "invalid rerank request: candidates[0].score must be number"),
    (b'{"request_id": "r", "user_id": "u", "ts": 1, "k": 1, "candidates": [{"item_id": 1, "score": NaN}]}',
     "not strict JSON: NaN is not a number"),
])
def test_bad_records_become_dead_letters_that_name_the_field(payload, reason):
    letter = parser.parse(payload)
    assert isinstance(letter, DeadLetter)
    assert letter.step == "parse"
    assert letter.reason.startswith(reason), letter.reason
    assert letter.original == payload


def test_dead_letter_json_keeps_the_original_bytes_and_matches_its_schema():
    letter = parser.parse(b"\xff\xfe{}")
    document = json.loads(letter.to_json())
    validator("dead_letter")(document)
    assert base64.b64decode(document["original_base64"]) == b"\xff\xfe{}"
    assert document["original_text"] is None


@pytest.mark.parametrize("name", ["behaviour_event", "rerank_request", "reranked_list", "dead_letter"])
def test_every_published_schema_compiles(name):
    assert callable(validator(name))
