"""Item features h(g) for candidates that do not carry their own. Pure: no Flink.

Order of precedence, first found wins:
  1. the candidate's own fields in the request (its attributes, or its `features` map);
  2. the latest item update from the item-update topic (newer than any catalogue snapshot);
  3. the item catalogue, a Parquet file loaded when the job starts.
An item found nowhere keeps no features: scoring gives it a neutral interest, keeps it at its
upstream position and says so in its note.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Sequence

import pyarrow.parquet as pq

from state_schemas.records import Candidate, RerankRequest

FeatureLookup = Callable[[str], "Mapping[str, float] | None"]


def load_catalogue(path: str | Path, dimensions: Sequence[str]) -> dict[str, dict[str, float]]:
    """item_id -> features, from a Parquet file with an `item_id` column and one per dimension."""
    table = pq.read_table(path)
    if "item_id" not in table.column_names:
        raise ValueError(f"catalogue {path}: no item_id column (columns: {', '.join(table.column_names)})")
    present = [d for d in dimensions if d in table.column_names]
    columns = {name: table[name].to_pylist() for name in ["item_id", *present]}
    catalogue = {}
    for row, item_id in enumerate(columns["item_id"]):
        if item_id is None:
            continue
        catalogue[str(item_id)] = {f"{d}:{columns[d][row]}": 1.0 for d in present
                                   if columns[d][row] is not None}
    return catalogue


def item_features(record: Mapping, dimensions: Sequence[str]) -> dict[str, float]:
    """h(g) of an item record (a candidate or an item update): attributes, then explicit features."""
    features = {f"{d}:{record[d]}": 1.0 for d in dimensions if record.get(d) is not None}
    features.update(record.get("features") or {})
    return features


def with_resolved_features(request: RerankRequest, updates: FeatureLookup,
                           catalogue: Mapping[str, Mapping[str, float]]) -> RerankRequest:
    """The request with features filled in, by precedence, for candidates that have none."""
    if all(c.features for c in request.candidates):
        return request
    resolved = []
    for candidate in request.candidates:
        if not candidate.features:
            found = updates(candidate.item_id) or catalogue.get(candidate.item_id)
            if found:
                candidate = Candidate(candidate.item_id, candidate.upstream_score, dict(found))
        resolved.append(candidate)
    return request._replace(candidates=tuple(resolved))
