"""The Flink function classes: thin glue between Flink state and the pure modules beside this one.

Each reads state, calls a pure function, writes state back and yields. Settings arrive through the
constructor (they are pickled with the function); clients and counters are made in open().
"""

from __future__ import annotations

import redis
from pyflink.common import Row
from pyflink.datastream import (KeyedBroadcastProcessFunction, KeyedProcessFunction, MapFunction,
                                ProcessFunction, RuntimeContext)
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from conf.settings import RedisSettings, Settings
from state_schemas.records import BehaviourEvent, DeadLetter, ItemUpdate
from state_schemas.state import DEAD_LETTERS, ITEM_FEATURES_BY_ID, user_state_descriptors
from udfs.catalogue import FeatureLookup, load_catalogue, with_resolved_features
from udfs.parsing import RecordParser
from udfs.scoring import Ranker
from udfs.serving import list_key, profile_json, profile_key
from udfs.user_model import UserModel


class ParseRecords(ProcessFunction):
    """bytes -> BehaviourEvent | RerankRequest (or ItemUpdate, with item_updates=True);
    bad records -> DEAD_LETTERS as Row(None, dead letter JSON), counted in `dead_letters`."""

    def __init__(self, dimensions: tuple[str, ...], item_updates: bool = False):
        self.dimensions = dimensions
        self.item_updates = item_updates

    def open(self, runtime_context: RuntimeContext):
        parser = RecordParser(self.dimensions)
        self.parse = parser.parse_item_update if self.item_updates else parser.parse
        self.dead_letter_count = runtime_context.get_metrics_group().counter("dead_letters")

    def process_element(self, raw: bytes, ctx: ProcessFunction.Context):
        record = self.parse(raw)
        if isinstance(record, DeadLetter):
            self.dead_letter_count.inc()
            yield DEAD_LETTERS, Row(None, record.to_json())
        else:
            yield record


class FlinkUserState:
    """The UserState protocol of udfs/user_model.py over Flink keyed state (current key).

    The small values live in one state value, read at most once per record and written once at
    its end (`flush`): each state access crosses from Python into the JVM, and that crossing,
    not the maths, is what an event costs.
    """

    def __init__(self, runtime_context: RuntimeContext, state_ttl_ms: int, candidate_list_ttl_ms: int):
        interest, activity, last_request = user_state_descriptors(state_ttl_ms, candidate_list_ttl_ms)
        self.interest = runtime_context.get_map_state(interest)
        self._activity_state = runtime_context.get_state(activity)
        self._last_request_state = runtime_context.get_state(last_request)
        self._activity = None
        self._dirty = False

    def read(self, name: str):
        if name == "last_request":
            return self._last_request_state.value()
        if self._activity is None:
            self._activity = self._activity_state.value() or {}
        return self._activity.get(name)

    def write(self, name: str, value) -> None:
        if name == "last_request":
            self._last_request_state.update(value)
            return
        if self._activity is None:
            self._activity = self._activity_state.value() or {}
        self._activity[name] = value
        self._dirty = True

    def flush(self) -> None:
        """Writes the small values back if they changed, and forgets them (the key changes next)."""
        if self._dirty:
            self._activity_state.update(self._activity)
        self._activity = None
        self._dirty = False


class _RerankGlue:
    """What both rerank operators share: state, model and catalogue set-up, and record handling."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def open(self, runtime_context: RuntimeContext):
        s = self.settings
        self.state = FlinkUserState(runtime_context, s.interest.state_ttl_ms,
                                    s.rerank_on_event.candidate_list_ttl_ms)
        self.model = UserModel(s.interest, Ranker(s.scoring, s.diversity), s.rerank_on_event)
        self.catalogue = (load_catalogue(s.catalogue.path, s.interest.dimensions)
                          if s.catalogue.path else {})
        metrics = runtime_context.get_metrics_group()
        self.events_count = metrics.counter("behaviour_events")
        self.requests_count = metrics.counter("rerank_requests")
        self.event_reranks_count = metrics.counter("reranks_on_event")

    def handle(self, record, item_updates: FeatureLookup):
        """Yields Row(user_id, reranked list JSON, interest profile JSON) for each list made."""
        result = self._apply(record, item_updates)
        self.state.flush()
        if result is not None:
            yield result

    def _apply(self, record, item_updates: FeatureLookup) -> Row | None:
        if isinstance(record, BehaviourEvent):
            self.events_count.inc()
            result = self.model.on_event(self.state, record)
            if result is None:
                return None
            self.event_reranks_count.inc()
        else:
            self.requests_count.inc()
            request = with_resolved_features(record, item_updates, self.catalogue)
            result = self.model.on_request(self.state, request)
        reranked, profile = result
        return Row(reranked.user_id, reranked.to_json(),
                   profile_json(reranked.user_id, reranked.ts_ms, profile.weights))


def _no_item_updates(item_id: str) -> None:
    return None


class RerankByUserInterest(_RerankGlue, KeyedProcessFunction):
    """Keyed by user: events update the user's state; requests (and, when enabled, events) are
    answered with reranked lists. For a job without an item-update topic."""

    def open(self, runtime_context: RuntimeContext):
        _RerankGlue.open(self, runtime_context)

    def process_element(self, record, ctx: KeyedProcessFunction.Context):
        yield from self.handle(record, _no_item_updates)


class RerankByUserInterestWithItemUpdates(_RerankGlue, KeyedBroadcastProcessFunction):
    """As RerankByUserInterest, with item updates broadcast to every task as they come."""

    def open(self, runtime_context: RuntimeContext):
        _RerankGlue.open(self, runtime_context)

    def process_element(self, record, ctx: KeyedBroadcastProcessFunction.ReadOnlyContext):
        item_features_by_id = ctx.get_broadcast_state(ITEM_FEATURES_BY_ID)
        yield from self.handle(record, item_features_by_id.get)

    def process_broadcast_element(self, update: ItemUpdate, ctx: KeyedBroadcastProcessFunction.Context):
        ctx.get_broadcast_state(ITEM_FEATURES_BY_ID).put(update.item_id, update.features)


class WriteToRedis(MapFunction):
    """Writes each user's latest list and profile to Redis; passes Row(user_id, list JSON) on.

    Python functions get no checkpoint hooks, so these writes are at-least-once; they are plain
    SETs of whole values, so a replay after a restart rewrites the same values (idempotent).
    """

    def __init__(self, settings: RedisSettings):
        self.settings = settings

    def open(self, runtime_context: RuntimeContext):
        s = self.settings
        self.client = redis.Redis(
            host=s.host, port=s.port, db=s.db, password=s.password, socket_timeout=10,
            socket_connect_timeout=10, health_check_interval=30,
            retry=Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=8),
            retry_on_error=[redis.exceptions.ConnectionError, redis.exceptions.TimeoutError])

    def map(self, result: Row) -> Row:
        user_id, list_json, profile = result[0], result[1], result[2]
        prefix, ttl = self.settings.key_prefix, self.settings.ttl_seconds
        pipe = self.client.pipeline(transaction=True)
        pipe.set(list_key(prefix, user_id), list_json, ex=ttl)
        pipe.set(profile_key(prefix, user_id), profile, ex=ttl)
        pipe.execute()
        return Row(user_id, list_json)

    def close(self):
        if getattr(self, "client", None) is not None:
            self.client.close()
