"""One user's state and what events and requests do to it. Pure: no Flink.

The Flink operator and the offline evaluator both drive this class, the operator over Flink keyed
state and the evaluator over dictionaries, so the job and the evaluator rank identically. State
is reached only through the small `UserState` protocol:

    interest              dimension ("category:12") -> (decayed count, as of ms)   a map
    dimension_count       how many dimensions the map holds                       a value
    recent_items          [(item_id, weight, ts_ms)], newest last, bounded         a value
    purchased_items       [(item_id, ts_ms)], newest last, bounded                 a value
    last_request          the user's latest RerankRequest (for re-rank on event)   a value
    last_event_rerank_ts  event time of the last re-rank on event                  a value
"""

from __future__ import annotations

from typing import Any, Iterable, Protocol

from conf.settings import InterestSettings, RerankOnEventSettings
from state_schemas.records import BehaviourEvent, RerankedList, RerankRequest
from udfs.interest import (InterestEntry, add_behaviour, decay_factor, decayed_counts,
                           interest_weights)
from udfs.scoring import Profile, Ranker


class InterestMap(Protocol):
    def get(self, key: str) -> InterestEntry | None: ...
    def put(self, key: str, value: InterestEntry) -> None: ...
    def remove(self, key: str) -> None: ...
    def items(self) -> Iterable[tuple[str, InterestEntry]]: ...


class UserState(Protocol):
    interest: InterestMap

    def read(self, name: str) -> Any: ...
    def write(self, name: str, value: Any) -> None: ...


class DictUserState:
    """UserState over plain dictionaries, for the evaluator and the tests."""

    def __init__(self):
        self.interest = _DictMap()
        self.values: dict[str, Any] = {}

    def read(self, name: str) -> Any:
        return self.values.get(name)

    def write(self, name: str, value: Any) -> None:
        self.values[name] = value


class _DictMap:
    def __init__(self):
        self.data: dict[str, InterestEntry] = {}

    def get(self, key):
        return self.data.get(key)

    def put(self, key, value):
        self.data[key] = value

    def remove(self, key):
        self.data.pop(key, None)

    def items(self):
        return list(self.data.items())


def dimension_of(key: str) -> str:
    return key.split(":", 1)[0]


class UserModel:
    """Applies events and answers requests for one user at a time, given that user's state."""

    def __init__(self, interest: InterestSettings, ranker: Ranker,
                 rerank_on_event: RerankOnEventSettings = RerankOnEventSettings()):
        self.settings = interest
        self.ranker = ranker
        self.on_event_settings = rerank_on_event
        self.recency_half_life_ms = ranker.scoring.recency_half_life_ms
        dimensions = set(interest.dimensions) | set(interest.half_life_ms_by_dimension)
        self._half_life = {d: interest.half_life_for(d) for d in dimensions}
        self._weights = {d: interest.weights_for(d) for d in dimensions}

    def half_life(self, key: str) -> float:
        return self._half_life.get(dimension_of(key), self.settings.half_life_ms)

    # Events ---------------------------------------------------------------------------------
    def on_event(self, state: UserState,
                 event: BehaviourEvent) -> tuple[RerankedList, Profile] | None:
        """Updates the state; returns the last list re-ranked (and the profile it was ranked
        with) when the event should trigger that."""
        interest = state.interest
        added = 0
        for key in event.interest_keys:
            weight = self._weights.get(dimension_of(key), self.settings.behaviour_weights)[event.type]
            entry = interest.get(key)
            if entry is None:
                added += 1
            interest.put(key, add_behaviour(entry, weight, event.ts_ms, self.half_life(key)))
        if added:
            count = (state.read("dimension_count") or 0) + added
            if count > self.settings.max_dimensions:
                count = self._drop_weakest(interest, event.ts_ms)
            state.write("dimension_count", count)
        if self.settings.recent_items:
            recent = state.read("recent_items") or []
            recent.append((event.item_id, self.settings.behaviour_weights[event.type], event.ts_ms))
            state.write("recent_items", recent[-self.settings.recent_items:])
        if event.type == "purchase" and self.settings.purchased_items:
            purchased = state.read("purchased_items") or []
            purchased.append((event.item_id, event.ts_ms))
            state.write("purchased_items", purchased[-self.settings.purchased_items:])
        return self._rerank_on_event(state, event) if event.interest_keys else None

    def _drop_weakest(self, interest: InterestMap, at_ts_ms: int) -> int:
        """Keeps the max_dimensions strongest dimensions (decayed to now); returns the count kept."""
        counts = decayed_counts(interest.items(), at_ts_ms, self.half_life)
        strength = sorted(((count, key) for key, count in counts.items()), reverse=True)
        for _, key in strength[self.settings.max_dimensions:]:
            interest.remove(key)
        return min(len(strength), self.settings.max_dimensions)

    def _rerank_on_event(self, state: UserState,
                         event: BehaviourEvent) -> tuple[RerankedList, Profile] | None:
        settings = self.on_event_settings
        if not settings.enabled:
            return None
        last = state.read("last_event_rerank_ts")
        if last is not None and event.ts_ms - last < settings.min_interval_ms:
            return None
        request = state.read("last_request")
        if request is None:
            return None
        state.write("last_event_rerank_ts", event.ts_ms)
        profile = self.profile(state, event.ts_ms)
        return self.ranker.rerank(request, profile, trigger="event", at_ts_ms=event.ts_ms), profile

    # Requests -------------------------------------------------------------------------------
    def on_request(self, state: UserState, request: RerankRequest) -> tuple[RerankedList, Profile]:
        if self.on_event_settings.enabled:
            state.write("last_request", request)
        profile = self.profile(state, request.ts_ms)
        return self.ranker.rerank(request, profile), profile

    def profile(self, state: UserState, at_ts_ms: int) -> Profile:
        counts = decayed_counts(state.interest.items(), at_ts_ms, self.half_life)
        recency: dict[str, float] = {}
        for item_id, weight, ts_ms in state.read("recent_items") or ():
            recency[item_id] = recency.get(item_id, 0.0) + weight * decay_factor(
                at_ts_ms - ts_ms, self.recency_half_life_ms)
        purchased = {item_id: ts_ms for item_id, ts_ms in state.read("purchased_items") or ()}
        return Profile(interest_weights(counts), recency, purchased)
