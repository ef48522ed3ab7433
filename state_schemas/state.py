"""Every piece of Flink state and every side output, declared once.

State names and operator uids are what a savepoint is matched by: renaming one is a migration.
Bump STATE_SCHEMA_VERSION when a stored shape changes, and say in the commit how to migrate.
"""

from pyflink.common import Types
from pyflink.datastream import OutputTag
from pyflink.datastream.state import MapStateDescriptor

STATE_SCHEMA_VERSION = 1

# Per user: interest dimension ("category:12") -> (decayed count, as of epoch ms).
INTEREST_BY_DIMENSION = MapStateDescriptor(
    "interest_by_dimension", Types.STRING(), Types.TUPLE([Types.DOUBLE(), Types.LONG()]))

# Row(key, payload) for the Kafka sinks: key and value are written from fields 0 and 1.
KEYED_JSON = Types.ROW([Types.STRING(), Types.STRING()])
# Row(user_id, reranked list JSON, interest profile JSON), from the rerank step to Redis.
RERANK_RESULT = Types.ROW([Types.STRING(), Types.STRING(), Types.STRING()])

DEAD_LETTERS = OutputTag("dead-letters", KEYED_JSON)

# Operator uids: stable forever (see module docstring).
UID_SOURCE = "kafka-input"
UID_PARSE = "parse-records"
UID_RERANK = "rerank-by-user"
UID_REDIS = "write-to-redis"
UID_OUTPUT_SINK = "kafka-reranked-lists"
UID_DEAD_LETTER_SINK = "kafka-dead-letters"
