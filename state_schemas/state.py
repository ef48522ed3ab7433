"""Every piece of Flink state and every side output, declared once.

State names and operator uids are what a savepoint is matched by: renaming one is a migration.
Bump STATE_SCHEMA_VERSION when a stored shape changes, and say in the commit how to migrate.
The per-user layout is described in udfs/user_model.py.
"""

from pyflink.common import Types
from pyflink.common.time import Duration, Time
from pyflink.datastream import OutputTag
from pyflink.datastream.state import MapStateDescriptor, StateTtlConfig, ValueStateDescriptor

STATE_SCHEMA_VERSION = 3

# Row(key, payload) for the Kafka sinks: key and value are written from fields 0 and 1.
KEYED_JSON = Types.ROW([Types.STRING(), Types.STRING()])
# Row(user_id, reranked list JSON, interest profile JSON), from the rerank step to Redis.
RERANK_RESULT = Types.ROW([Types.STRING(), Types.STRING(), Types.STRING()])

DEAD_LETTERS = OutputTag("dead-letters", KEYED_JSON)


# PyFlink 2.2's default ("in background") TTL cleanup makes a java.time.Duration (the RocksDB
# periodic compaction time) through the Py4J gateway whenever open() asks for a state with TTL,
# even when a strategy is configured. A task manager of a real cluster has no gateway, so the job
# failed there with FileNotFoundError (the local minicluster hides it: the client's gateway is
# in the same process). So the default is switched off and the same RocksDB compaction-filter
# cleanup is configured by hand, with a placeholder for the period that thread mode never reads.
_PERIODIC_COMPACTION_UNUSED_IN_THREAD_MODE = Duration(None)


def _ttl(ttl_ms: int) -> StateTtlConfig:
    return (StateTtlConfig.new_builder(Time.milliseconds(ttl_ms))
            .set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite)
            .set_state_visibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
            .disable_cleanup_in_background()
            .cleanup_in_rocksdb_compact_filter(
                1000, periodic_compaction_time=_PERIODIC_COMPACTION_UNUSED_IN_THREAD_MODE)
            .build())


def user_state_descriptors(state_ttl_ms: int, candidate_list_ttl_ms: int):
    """(interest map, user activity value, last request value) descriptors with TTLs (0 = none)."""
    # Per user: interest dimension ("category:12") -> (decayed count, as of epoch ms).
    interest = MapStateDescriptor("interest_by_dimension", Types.STRING(),
                                  Types.TUPLE([Types.DOUBLE(), Types.LONG()]))
    # Per user: the small values every event reads, kept together in one pickled dict so that an
    # event costs one read and one write of them: {"dimension_count", "recent_items",
    # "purchased_items", "last_event_rerank_ts"} (udfs/user_model.py describes each).
    activity = ValueStateDescriptor("user_activity", Types.PICKLED_BYTE_ARRAY())
    # Per user: the latest RerankRequest, for re-rank on event.
    last_request = ValueStateDescriptor("last_rerank_request", Types.PICKLED_BYTE_ARRAY())
    if state_ttl_ms > 0:
        interest.enable_time_to_live(_ttl(state_ttl_ms))
        activity.enable_time_to_live(_ttl(state_ttl_ms))
    if candidate_list_ttl_ms > 0:
        last_request.enable_time_to_live(_ttl(candidate_list_ttl_ms))
    return interest, activity, last_request


# Broadcast: item id -> features (dict), from the item-update topic.
ITEM_FEATURES_BY_ID = MapStateDescriptor("item_features_by_id", Types.STRING(),
                                         Types.PICKLED_BYTE_ARRAY())

# Operator uids: stable forever (see module docstring).
UID_SOURCE = "kafka-input"
UID_ITEM_UPDATES_SOURCE = "kafka-item-updates"
UID_PARSE = "parse-records"
UID_PARSE_ITEM_UPDATES = "parse-item-updates"  # ParseRecords(item_updates=True)
UID_RERANK = "rerank-by-user"
UID_REDIS = "write-to-redis"
UID_OUTPUT_SINK = "kafka-reranked-lists"
UID_DEAD_LETTER_SINK = "kafka-dead-letters"
