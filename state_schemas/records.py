"""The record types of every topic, as Python values, plus their published JSON Schemas.

Input records are validated against the JSON Schema files beside this module (compiled once with
fastjsonschema), then turned into the small immutable types below. These types know nothing of
Flink, so the scoring code, the offline tools and the tests share them.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from pathlib import Path
from typing import Callable, NamedTuple

import fastjsonschema

SCHEMA_DIR = Path(__file__).resolve().parent
RERANKED_LIST_SCHEMA_VERSION = 1


class BehaviourEvent(NamedTuple):
    """One user action; `interest_keys` are the item's "dimension:value" keys, e.g. "category:12"."""
    user_id: str
    item_id: str
    type: str
    ts_ms: int
    interest_keys: tuple[str, ...]


class Candidate(NamedTuple):
    item_id: str
    upstream_score: float
    features: dict[str, float]  # h(g): interest key -> weight


class RerankRequest(NamedTuple):
    request_id: str
    user_id: str
    ts_ms: int
    k: int
    candidates: tuple[Candidate, ...]


class ItemUpdate(NamedTuple):
    """New features of one item, from the item-update topic."""
    item_id: str
    features: dict[str, float]


class RankedItem(NamedTuple):
    item_id: str
    rank: int
    upstream_rank: int
    score: float
    upstream_score: float
    upstream_norm: float
    interest: float
    interest_norm: float
    because: tuple[tuple[str, float], ...]
    note: str = ""  # why the item is where it is, beyond its score parts (cold start, diversity, ...)

    def to_json_dict(self) -> dict:
        return {"item_id": self.item_id, "rank": self.rank, "upstream_rank": self.upstream_rank,
                "score": round(self.score, 6), "upstream_score": self.upstream_score,
                "upstream_norm": round(self.upstream_norm, 6), "interest": round(self.interest, 6),
                "interest_norm": round(self.interest_norm, 6),
                "because": [[key, round(value, 6)] for key, value in self.because],
                "note": self.note}


class RerankedList(NamedTuple):
    request_id: str
    user_id: str
    ts_ms: int
    cold_start: bool
    profile_dimensions: int
    items: tuple[RankedItem, ...]
    trigger: str = "request"

    def to_json(self) -> str:
        return json.dumps({
            "schema_version": RERANKED_LIST_SCHEMA_VERSION, "request_id": self.request_id,
            "user_id": self.user_id, "ts": self.ts_ms, "trigger": self.trigger,
            "cold_start": self.cold_start, "profile_dimensions": self.profile_dimensions,
            "items": [item.to_json_dict() for item in self.items]}, separators=(",", ":"))


class DeadLetter(NamedTuple):
    step: str
    reason: str
    original: bytes

    def to_json(self) -> str:
        try:
            text = self.original.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        return json.dumps({"step": self.step, "reason": self.reason,
                           "original_base64": base64.b64encode(self.original).decode("ascii"),
                           "original_text": text}, ensure_ascii=False, separators=(",", ":"))


def schema_path(name: str) -> Path:
    return SCHEMA_DIR / f"{name}.schema.json"


@lru_cache(maxsize=None)
def validator(name: str) -> Callable[[object], object]:
    """A compiled validator for one published schema; raises fastjsonschema.JsonSchemaException."""
    return fastjsonschema.compile(json.loads(schema_path(name).read_text()))
