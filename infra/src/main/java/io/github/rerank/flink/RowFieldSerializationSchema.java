package io.github.rerank.flink;

import java.nio.charset.StandardCharsets;

import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.types.Row;

/**
 * Writes one field of a {@link Row} as UTF-8 text: the Kafka record key or value.
 *
 * <p>PyFlink offers no serialization schema that takes the key from one field of the record and
 * the value from another (its CSV and JSON schemas write every field), so the job's Kafka sinks
 * receive {@code Row(user_id, payload)} and use this class twice: field 0 as the key, field 1 as
 * the value. A null field gives a null key or value.
 */
public final class RowFieldSerializationSchema implements SerializationSchema<Row> {
    private static final long serialVersionUID = 1L;

    private final int fieldIndex;

    public RowFieldSerializationSchema(int fieldIndex) {
        if (fieldIndex < 0) {
            throw new IllegalArgumentException("fieldIndex must be >= 0, got " + fieldIndex);
        }
        this.fieldIndex = fieldIndex;
    }

    @Override
    public byte[] serialize(Row row) {
        if (fieldIndex >= row.getArity()) {
            throw new IllegalArgumentException(
                    "row has " + row.getArity() + " fields, no field " + fieldIndex + ": " + row);
        }
        Object value = row.getField(fieldIndex);
        return value == null ? null : value.toString().getBytes(StandardCharsets.UTF_8);
    }
}
