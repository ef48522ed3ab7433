import json

from state_schemas.records import validator
from tests.unit.factories import make_candidate, make_request
from udfs.scoring import rerank
from udfs.serving import list_key, profile_json, profile_key


def test_redis_keys_follow_the_documented_layout():
    assert list_key("rerank:", "u1") == "rerank:list:u1"
    assert profile_key("rerank:", "u1") == "rerank:profile:u1"


def test_profile_lists_weights_strongest_first():
    document = json.loads(profile_json("u1", 5, {"category:a": 0.25, "category:b": 0.75}))
    assert document == {"user_id": "u1", "ts": 5, "weights": {"category:b": 0.75, "category:a": 0.25}}
    assert list(document["weights"]) == ["category:b", "category:a"]


def test_reranked_list_json_matches_its_published_schema():
    request = make_request(make_candidate("a", 0.9, category__x=1.0), make_candidate("b", 0.1), k=2)
    document = json.loads(rerank(request, {"category:x": 1.0}, 0.5).to_json())
    validator("reranked_list")(document)
    assert document["items"][0]["because"] == [["category:x", 1.0]]
