"""The job's Kafka source and sinks, built from settings and passed into the pipeline."""

from __future__ import annotations

from pathlib import Path

from pyflink.common.serialization import ByteArraySchema, SerializationSchema
from pyflink.datastream.connectors.base import DeliveryGuarantee
from pyflink.datastream.connectors.kafka import (KafkaOffsetResetStrategy, KafkaOffsetsInitializer,
                                                 KafkaRecordSerializationSchema, KafkaSink,
                                                 KafkaSource)
from pyflink.java_gateway import get_gateway

from conf.settings import KafkaSettings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
JOB_JARS_DIR = PROJECT_ROOT / "infra" / "jars" / "job"


def job_jars() -> list[str]:
    """file:// URLs of the jars the job needs (Kafka connector, our key/value schema)."""
    jars = sorted(JOB_JARS_DIR.glob("*.jar"))
    names = " ".join(jar.name for jar in jars)
    if "flink-sql-connector-kafka" not in names or "rerank-flink-helpers" not in names:
        raise FileNotFoundError(f"the job's jars are missing from {JOB_JARS_DIR} "
                                f"(found: {names or 'nothing'}); run `make install`")
    return [jar.as_uri() for jar in jars]


def kafka_source(settings: KafkaSettings, bounded: bool = False,
                 topics: tuple[str, ...] | None = None) -> KafkaSource:
    """Raw record bytes from the input topic(s) (or `topics`); bounded stops at the offsets
    latest at start."""
    if settings.starting_offsets.startswith("timestamp:"):
        starting = KafkaOffsetsInitializer.timestamp(int(settings.starting_offsets.split(":")[1]))
    else:
        starting = {
            "committed": KafkaOffsetsInitializer.committed_offsets(KafkaOffsetResetStrategy.EARLIEST),
            "earliest": KafkaOffsetsInitializer.earliest(),
            "latest": KafkaOffsetsInitializer.latest(),
        }[settings.starting_offsets]
    builder = (KafkaSource.builder()
               .set_bootstrap_servers(settings.bootstrap_servers)
               .set_topics(*(topics or settings.input_topics))
               .set_group_id(settings.consumer_group)
               .set_starting_offsets(starting)
               .set_value_only_deserializer(ByteArraySchema())
               # Only read what upstream producers committed, like every consumer of ours.
               .set_property("isolation.level", "read_committed"))
    if bounded:
        builder = builder.set_bounded(KafkaOffsetsInitializer.latest())
    return builder.build()


def _row_field(index: int) -> SerializationSchema:
    return SerializationSchema(get_gateway().jvm.io.github.rerank.flink.RowFieldSerializationSchema(index))


def keyed_json_sink(settings: KafkaSettings, topic: str, transactional_id_prefix: str) -> KafkaSink:
    """Exactly-once sink for Row(key, JSON): key from field 0, value from field 1."""
    serializer = (KafkaRecordSerializationSchema.builder()
                  .set_topic(topic)
                  .set_key_serialization_schema(_row_field(0))
                  .set_value_serialization_schema(_row_field(1))
                  .build())
    return (KafkaSink.builder()
            .set_bootstrap_servers(settings.bootstrap_servers)
            .set_record_serializer(serializer)
            .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE)
            .set_transactional_id_prefix(transactional_id_prefix)
            # The connector's default (1 h) is above a default broker's maximum (15 min).
            .set_property("transaction.timeout.ms", str(settings.transaction_timeout_ms))
            .build())
