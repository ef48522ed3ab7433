"""Typed, frozen settings, loaded once from one YAML file per environment.

Precedence: command line over environment over file. The environment overrides a few connection
settings (`RERANK_KAFKA_BOOTSTRAP_SERVERS`, `RERANK_REDIS_HOST`, `RERANK_REDIS_PORT`,
`RERANK_REDIS_PASSWORD`); the password is only ever read from the environment and never printed.
Nothing under `udfs/` reads the environment: operators get their settings through constructors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EVENT_TYPES = ("view", "click", "cart", "fav", "purchase")


class SettingsError(ValueError):
    """A settings file is missing, malformed, or names a key that does not exist."""


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str = "127.0.0.1:19092"
    # One mixed topic keeps a user's events and requests in order; several topics are read together.
    input_topics: tuple[str, ...] = ("rerank-input",)
    output_topic: str = "reranked-lists"
    dead_letter_topic: str = "rerank-dead-letters"
    topic_partitions: int = 2
    consumer_group: str = "rerank-job"
    # committed (falling back to earliest) | earliest | latest | timestamp:<epoch ms>
    starting_offsets: str = "committed"
    transactional_id_prefix: str = "rerank-job"
    transaction_timeout_ms: int = 600_000

    def all_topics(self) -> list[str]:
        return [*self.input_topics, self.output_topic, self.dead_letter_topic]


@dataclass(frozen=True)
class RedisSettings:
    host: str = "127.0.0.1"
    port: int = 16379
    db: int = 0
    key_prefix: str = "rerank:"
    ttl_seconds: int = 7 * 24 * 3600
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class InterestSettings:
    # Item attributes that become interest dimensions, e.g. "category" -> keys "category:<value>".
    dimensions: tuple[str, ...] = ("category", "brand")
    half_life_ms: int = 24 * 3600 * 1000
    behaviour_weights: Mapping[str, float] = field(default_factory=lambda: {
        "view": 1.0, "click": 1.0, "cart": 3.0, "fav": 2.0, "purchase": 4.0})
    # Per-dimension overrides of the two above, e.g. {brand: 172800000}, {brand: {view: 0.5}}.
    half_life_ms_by_dimension: Mapping[str, int] = field(default_factory=dict)
    behaviour_weights_by_dimension: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    # Bounded state: at most this many dimensions per user (the weakest are dropped) ...
    max_dimensions: int = 200
    # ... the user's last N behaviours (item recency), and the items bought lately.
    recent_items: int = 30
    purchased_items: int = 50
    # Users inactive this long lose their state (Flink state TTL, processing time). 0 = never.
    state_ttl_ms: int = 30 * 24 * 3600 * 1000

    def half_life_for(self, dimension: str) -> int:
        return int(self.half_life_ms_by_dimension.get(dimension, self.half_life_ms))

    def weights_for(self, dimension: str) -> Mapping[str, float]:
        return {**self.behaviour_weights, **self.behaviour_weights_by_dimension.get(dimension, {})}


@dataclass(frozen=True)
class ScoringSettings:
    # score = (1 - interest_weight) * upstream_norm + interest_weight * interest_norm
    #         + recency_weight * recency, times purchased_demotion_factor for items bought lately
    interest_weight: float = 0.5
    # Items the user acted on lately: recency = sum of behaviour weights decayed by this half-life.
    recency_weight: float = 0.0
    recency_half_life_ms: int = 3600 * 1000
    purchased_demotion_ms: int = 7 * 24 * 3600 * 1000
    purchased_demotion_factor: float = 1.0
    # How many of an item's strongest matching dimensions the explanation lists.
    explain_top_dimensions: int = 3


@dataclass(frozen=True)
class DiversitySettings:
    method: str = "none"            # none | mmr | dpp
    group_by: str = "category"      # item attribute that defines a group for the caps and metrics
    mmr_lambda: float = 0.8         # MMR: lambda * relevance - (1 - lambda) * max similarity
    dpp_theta: float = 0.7          # DPP: relevance vs diversity trade-off (Chen et al. 2018)
    # Item similarity = scale * cosine(h(g1), h(g2)) (+ (1 - scale) on the diagonal's side):
    # below 1, two items of one category are alike but not identical, so DPP can still rank them.
    similarity_scale: float = 1.0
    cap_mode: str = "none"          # none | soft | hard
    cap_floor: float = 0.5          # soft: score * ((1 - floor) * decay^n + floor), n-th of a group
    cap_decay: float = 0.7
    cap_max_per_group: int = 3      # hard: at most this many per group in the top k


@dataclass(frozen=True)
class CatalogueSettings:
    # Item features come from, in order: the candidate's own fields; the latest item update from
    # update_topic; the Parquet catalogue loaded at start. An item found nowhere scores neutral.
    path: str = ""                  # Parquet file: item_id plus one column per dimension
    update_topic: str = ""          # JSON item updates ({"item_id", "category", ...}), broadcast


@dataclass(frozen=True)
class RerankOnEventSettings:
    enabled: bool = False
    min_interval_ms: int = 10_000   # per user, in event time
    candidate_list_ttl_ms: int = 30 * 60 * 1000  # how long the last candidate list is kept


@dataclass(frozen=True)
class FlinkSettings:
    parallelism: int = 2
    checkpoint_interval_ms: int = 2_000
    checkpoint_dir: str = ".run/checkpoints"
    savepoint_dir: str = ".run/savepoints"
    state_backend: str = "rocksdb"
    # How long a record may wait in a network buffer before it is sent on (Flink's default is
    # 100 ms, which is most of the Kafka-in to Redis latency); lower costs some throughput.
    buffer_timeout_ms: int = 1
    restart_attempts: int = 3
    restart_delay_ms: int = 2_000
    # The Python worker reaches Redis from here; extra options go straight into the Flink config.
    extra_config: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    interest: InterestSettings = field(default_factory=InterestSettings)
    scoring: ScoringSettings = field(default_factory=ScoringSettings)
    diversity: DiversitySettings = field(default_factory=DiversitySettings)
    catalogue: CatalogueSettings = field(default_factory=CatalogueSettings)
    rerank_on_event: RerankOnEventSettings = field(default_factory=RerankOnEventSettings)
    flink: FlinkSettings = field(default_factory=FlinkSettings)
    run_dir: Path = PROJECT_ROOT / ".run" / "local"

    def topics(self) -> list[str]:
        """Every topic the job reads or writes."""
        update_topic = [self.catalogue.update_topic] if self.catalogue.update_topic else []
        return [*self.kafka.all_topics(), *update_topic]

    def with_overrides(self, **sections: Mapping[str, Any]) -> "Settings":
        """A copy with some keys of some sections replaced, validated like a file would be."""
        updated = self
        for section, values in sections.items():
            if section not in _SECTIONS:
                raise SettingsError(f"unknown section {section!r}; known: {', '.join(_SECTIONS)}")
            current = getattr(self, section)
            updated = replace(updated, **{section: _build(type(current), values, section, current)})
        _validate(updated)
        return updated


_SECTIONS = {"kafka": KafkaSettings, "redis": RedisSettings, "interest": InterestSettings,
             "scoring": ScoringSettings, "diversity": DiversitySettings,
             "catalogue": CatalogueSettings, "rerank_on_event": RerankOnEventSettings,
             "flink": FlinkSettings}


def _build(cls, values: Mapping[str, Any] | None, section: str, base=None):
    values = dict(values or {})
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise SettingsError(f"unknown key(s) {', '.join(section + '.' + k for k in unknown)}; "
                            f"known: {', '.join(sorted(known))}")
    for name, value in list(values.items()):
        default = getattr(base if base is not None else cls(), name)
        if isinstance(default, tuple):
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, (list, tuple)):
                raise SettingsError(f"{section}.{name} must be a list, got {value!r}")
            values[name] = tuple(value)
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise SettingsError(f"{section}.{name} must be true or false, got {value!r}")
        elif isinstance(default, str) and not isinstance(value, str):
            raise SettingsError(f"{section}.{name} must be text, got {value!r} (quote it in YAML)")
        elif isinstance(default, (int, float)) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SettingsError(f"{section}.{name} must be a number, got {value!r}")
            values[name] = float(value) if isinstance(default, float) else value
    return replace(base, **values) if base is not None else cls(**values)


def _validate(settings: Settings) -> None:
    weights = settings.interest.behaviour_weights
    missing = [t for t in EVENT_TYPES if t not in weights]
    if missing:
        raise SettingsError(f"interest.behaviour_weights lacks event type(s) {', '.join(missing)}")
    if settings.interest.half_life_ms <= 0:
        raise SettingsError("interest.half_life_ms must be > 0")
    if not 0.0 <= settings.scoring.interest_weight <= 1.0:
        raise SettingsError("scoring.interest_weight must be within [0, 1]")
    if not settings.kafka.input_topics:
        raise SettingsError("kafka.input_topics must name at least one topic")
    for dimension, weights in settings.interest.behaviour_weights_by_dimension.items():
        unknown = sorted(set(weights) - set(EVENT_TYPES))
        if unknown:
            raise SettingsError(f"interest.behaviour_weights_by_dimension.{dimension}: unknown "
                                f"event type(s) {', '.join(unknown)}")
    if settings.diversity.method not in ("none", "mmr", "dpp"):
        raise SettingsError("diversity.method must be none, mmr or dpp")
    if settings.diversity.cap_mode not in ("none", "soft", "hard"):
        raise SettingsError("diversity.cap_mode must be none, soft or hard")
    if not 0.0 <= settings.diversity.similarity_scale <= 1.0:
        raise SettingsError("diversity.similarity_scale must be within [0, 1]")
    if not 0.0 <= settings.diversity.mmr_lambda <= 1.0 or not 0.0 <= settings.diversity.dpp_theta < 1.0:
        raise SettingsError("diversity.mmr_lambda must be within [0, 1], dpp_theta within [0, 1)")
    if settings.interest.max_dimensions < 1 or settings.interest.recent_items < 0:
        raise SettingsError("interest.max_dimensions must be >= 1 and recent_items >= 0")
    offsets = settings.kafka.starting_offsets
    if offsets not in ("committed", "earliest", "latest") and not (
            offsets.startswith("timestamp:") and offsets[len("timestamp:"):].isdigit()):
        raise SettingsError("kafka.starting_offsets must be committed, earliest, latest or "
                            f"timestamp:<epoch ms>, got {offsets!r}")


def _resolve(path: str | Path) -> Path:
    path = Path(path)
    return path if path.is_absolute() else PROJECT_ROOT / path


def load_settings(path: str | Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read a YAML settings file, apply environment overrides, and validate the result."""
    environ = os.environ if environ is None else environ
    path = _resolve(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise SettingsError(f"settings file {path} does not exist") from None
    except yaml.YAMLError as error:
        raise SettingsError(f"settings file {path} is not valid YAML: {error}") from None
    unknown = sorted(set(raw) - set(_SECTIONS) - {"run_dir"})
    if unknown:
        raise SettingsError(f"{path}: unknown section(s) {', '.join(unknown)}; "
                            f"known: {', '.join([*_SECTIONS, 'run_dir'])}")
    sections = {name: _build(cls, raw.get(name), name) for name, cls in _SECTIONS.items()}
    settings = Settings(**sections, run_dir=_resolve(raw.get("run_dir", ".run/local")))

    if "RERANK_KAFKA_BOOTSTRAP_SERVERS" in environ:
        settings = replace(settings, kafka=replace(
            settings.kafka, bootstrap_servers=environ["RERANK_KAFKA_BOOTSTRAP_SERVERS"]))
    redis_env = {"host": environ.get("RERANK_REDIS_HOST"),
                 "port": int(environ["RERANK_REDIS_PORT"]) if "RERANK_REDIS_PORT" in environ else None,
                 "password": environ.get("RERANK_REDIS_PASSWORD")}
    redis_env = {k: v for k, v in redis_env.items() if v is not None}
    if redis_env:
        settings = replace(settings, redis=replace(settings.redis, **redis_env))
    flink = settings.flink
    settings = replace(settings, flink=replace(
        flink, checkpoint_dir=str(_resolve(flink.checkpoint_dir)),
        savepoint_dir=str(_resolve(flink.savepoint_dir))))
    if settings.catalogue.path:
        settings = replace(settings, catalogue=replace(
            settings.catalogue, path=str(_resolve(settings.catalogue.path))))
    _validate(settings)
    return settings
