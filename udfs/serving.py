"""What the job writes to Redis for serving, and under which keys.

    {prefix}list:{user_id}     the user's latest reranked list (JSON, as on the output topic)
    {prefix}profile:{user_id}  the user's normalised interest profile (JSON), as of that list:
                               {"user_id", "ts", "weights": {"category:12": 0.31, ...}}

Both are plain strings with the TTL from conf (redis.ttl_seconds), written together in one
MULTI/EXEC, so a reader never sees a list without the profile it was made with. Writes are
idempotent: replaying a record after a restart writes the same values again.
"""

from __future__ import annotations

import json
from typing import Mapping


def list_key(prefix: str, user_id: str) -> str:
    return f"{prefix}list:{user_id}"


def profile_key(prefix: str, user_id: str) -> str:
    return f"{prefix}profile:{user_id}"


def profile_json(user_id: str, ts_ms: int, weights: Mapping[str, float]) -> str:
    ordered = dict(sorted(((k, round(v, 6)) for k, v in weights.items()), key=lambda kv: -kv[1]))
    return json.dumps({"user_id": user_id, "ts": ts_ms, "weights": ordered}, separators=(",", ":"))
