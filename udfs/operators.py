"""The Flink function classes: thin glue between Flink state and the pure modules beside this one.

Each reads state, calls a pure function, writes state back and yields. Settings arrive through the
constructor (they are pickled with the function); clients and counters are made in open().
"""

from __future__ import annotations

import redis
from pyflink.common import Row
from pyflink.datastream import KeyedProcessFunction, MapFunction, ProcessFunction, RuntimeContext
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from conf.settings import InterestSettings, RedisSettings, ScoringSettings
from state_schemas.records import BehaviourEvent, DeadLetter
from state_schemas.state import DEAD_LETTERS, INTEREST_BY_DIMENSION
from udfs.interest import add_behaviour, decayed_counts, interest_weights
from udfs.parsing import RecordParser
from udfs.scoring import rerank
from udfs.serving import list_key, profile_json, profile_key


class ParseRecords(ProcessFunction):
    """bytes -> BehaviourEvent | RerankRequest; bad records -> DEAD_LETTERS as Row(None, json)."""

    def __init__(self, dimensions: tuple[str, ...]):
        self.dimensions = dimensions

    def open(self, runtime_context: RuntimeContext):
        self.parser = RecordParser(self.dimensions)
        self.dead_letter_count = runtime_context.get_metrics_group().counter("dead_letters")

    def process_element(self, raw: bytes, ctx: ProcessFunction.Context):
        record = self.parser.parse(raw)
        if isinstance(record, DeadLetter):
            self.dead_letter_count.inc()
            yield DEAD_LETTERS, Row(None, record.to_json())
        else:
            yield record


class RerankByUserInterest(KeyedProcessFunction):
    """Keyed by user: events update the interest state; requests are reranked with it.

    Emits Row(user_id, reranked list JSON, interest profile JSON) for every request.
    """

    def __init__(self, interest: InterestSettings, scoring: ScoringSettings):
        self.behaviour_weights = dict(interest.behaviour_weights)
        self.half_life_ms = interest.half_life_ms
        self.interest_weight = scoring.interest_weight
        self.explain_top_dimensions = scoring.explain_top_dimensions

    def open(self, runtime_context: RuntimeContext):
        self.interest = runtime_context.get_map_state(INTEREST_BY_DIMENSION)
        metrics = runtime_context.get_metrics_group()
        self.events_count = metrics.counter("behaviour_events")
        self.requests_count = metrics.counter("rerank_requests")

    def process_element(self, record, ctx: KeyedProcessFunction.Context):
        if isinstance(record, BehaviourEvent):
            self.events_count.inc()
            weight = self.behaviour_weights[record.type]
            for key in record.interest_keys:
                self.interest.put(key, add_behaviour(self.interest.get(key), weight,
                                                     record.ts_ms, self.half_life_ms))
            return
        self.requests_count.inc()
        weights = interest_weights(decayed_counts(self.interest.items(), record.ts_ms,
                                                  self.half_life_ms))
        ranked = rerank(record, weights, self.interest_weight, self.explain_top_dimensions)
        yield Row(record.user_id, ranked.to_json(), profile_json(record.user_id, record.ts_ms, weights))


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
