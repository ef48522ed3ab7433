"""Turn the bytes of an input record into a behaviour event, a rerank request, or a dead letter.

A record is a rerank request when it has a `request_id` or `candidates` field, and a behaviour
event otherwise; each is validated against its published JSON Schema (state_schemas/). Only errors
that bad input can cause are caught here; anything else is a bug and fails loudly.
"""

from __future__ import annotations

import json
from typing import Sequence, Union

from fastjsonschema import JsonSchemaException

from state_schemas.records import (BehaviourEvent, Candidate, DeadLetter, ItemUpdate,
                                   RerankRequest, validator)
from udfs.catalogue import item_features

PARSE_STEP = "parse"
ParsedRecord = Union[BehaviourEvent, RerankRequest, DeadLetter]


class RecordParser:
    """Parses input records; `dimensions` are the item attributes that are interest dimensions."""

    def __init__(self, dimensions: Sequence[str]):
        self.dimensions = tuple(dimensions)
        self._validate_event = validator("behaviour_event")
        self._validate_request = validator("rerank_request")
        self._validate_item_update = validator("item_update")

    def parse(self, raw: bytes) -> ParsedRecord:
        record = self._json_object(raw)
        if isinstance(record, DeadLetter):
            return record
        is_request = "request_id" in record or "candidates" in record
        kind = "rerank request" if is_request else "behaviour event"
        try:
            if is_request:
                self._validate_request(record)
                return self._request(record)
            self._validate_event(record)
            return self._event(record)
        except JsonSchemaException as error:
            return DeadLetter(PARSE_STEP, f"invalid {kind}: {_field_message(error)}", raw)

    @staticmethod
    def _json_object(raw: bytes) -> dict | DeadLetter:
        try:
            # Decode explicitly: json.loads(bytes) would guess UTF-16/32 from the first bytes.
            record = json.loads(raw.decode("utf-8"), parse_constant=_reject_non_finite)
        except _NonFiniteNumber as error:
            return DeadLetter(PARSE_STEP, f"not strict JSON: {error} is not a number", raw)
        except UnicodeDecodeError as error:
            return DeadLetter(PARSE_STEP, f"not UTF-8 text: {error.reason} at byte {error.start}", raw)
        except json.JSONDecodeError as error:
            return DeadLetter(PARSE_STEP, f"not JSON: {error.msg} at line {error.lineno} "
                                          f"column {error.colno}", raw)
        if not isinstance(record, dict):
            return DeadLetter(PARSE_STEP, f"not a JSON object but a {type(record).__name__}", raw)
        return record

    def interest_keys(self, attributes: dict) -> tuple[str, ...]:
        """The "dimension:value" keys of an item's attributes, for the configured dimensions."""
        return tuple(f"{dimension}:{attributes[dimension]}" for dimension in self.dimensions
                     if attributes.get(dimension) is not None)

    def _event(self, record: dict) -> BehaviourEvent:
        return BehaviourEvent(user_id=str(record["user_id"]), item_id=str(record["item_id"]),
                              type=record["type"], ts_ms=record["ts"],
                              interest_keys=self.interest_keys(record))

    def _request(self, record: dict) -> RerankRequest:
        return RerankRequest(
            request_id=str(record["request_id"]), user_id=str(record["user_id"]),
            ts_ms=record["ts"], k=record["k"],
            candidates=tuple(self._candidate(c) for c in record["candidates"]))

    def _candidate(self, candidate: dict) -> Candidate:
        return Candidate(item_id=str(candidate["item_id"]), upstream_score=float(candidate["score"]),
                         features=item_features(candidate, self.dimensions))

    def parse_item_update(self, raw: bytes) -> ItemUpdate | DeadLetter:
        """An item update (item-update topic) or a dead letter."""
        record = self._json_object(raw)
        if isinstance(record, DeadLetter):
            return record
        try:
            self._validate_item_update(record)
        except JsonSchemaException as error:
            return DeadLetter(PARSE_STEP, f"invalid item update: {_field_message(error)}", raw)
        return ItemUpdate(str(record["item_id"]), item_features(record, self.dimensions))


class _NonFiniteNumber(ValueError):
    pass


def _reject_non_finite(constant: str) -> float:
    raise _NonFiniteNumber(constant)  # NaN and Infinity would break every comparison downstream


def _field_message(error: JsonSchemaException) -> str:
    # fastjsonschema names the field as "data.candidates[2].score must be number"; drop "data".
    message = error.message
    if " must contain " in message:  # "data.x must contain ['user_id'] properties"
        where = message.split(" must contain ")[0]
        missing = error.rule_definition if error.rule == "required" else message
        prefix = "" if where == "data" else where[5:] + ": "
        present = error.value if isinstance(error.value, dict) else {}
        absent = [field for field in missing if field not in present]
        return f"{prefix}missing required field(s) {', '.join(absent)}"
    return message[5:] if message.startswith("data.") else message
