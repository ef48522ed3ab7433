import pytest

from conf.settings import SettingsError, load_settings


@pytest.mark.parametrize("path", ["conf/local.yaml", "conf/test.yaml"])
def test_shipped_settings_load(path):
    settings = load_settings(path, environ={})
    assert settings.interest.half_life_ms > 0
    assert settings.kafka.input_topics


def test_environment_overrides_the_file_and_hides_the_password():
    settings = load_settings("conf/local.yaml", environ={
        "RERANK_KAFKA_BOOTSTRAP_SERVERS": "kafka:9092", "RERANK_REDIS_PORT": "6380",
        "RERANK_REDIS_PASSWORD": "s3cret"})
    assert settings.kafka.bootstrap_servers == "kafka:9092"
    assert settings.redis.port == 6380
    assert settings.redis.password == "s3cret"
    assert "s3cret" not in repr(settings)


def test_overrides_are_validated_like_the_file():
    settings = load_settings("conf/local.yaml", environ={})
    assert settings.with_overrides(scoring={"interest_weight": 0.8}).scoring.interest_weight == 0.8
    with pytest.raises(SettingsError, match="scoring.interest_weight must be within"):
        settings.with_overrides(scoring={"interest_weight": 2})
    with pytest.raises(SettingsError, match="unknown key.*scoring.interest_wieght"):
        settings.with_overrides(scoring={"interest_wieght": 0.1})


@pytest.mark.parametrize("text, message", [
    ("kafak: {}", "unknown section"),
    ("interest: {half_life_ms: soon}", "interest.half_life_ms must be a number"),
    ("interest: {behaviour_weights: {view: 1}}", "lacks event type"),
    ("kafka: {input_topics: []}", "at least one topic"),
    ("kafka: {starting_offsets: yesterday}", "kafka.starting_offsets must be"),
    ("scoring: [", "not valid YAML"),
    ("redis: {key_prefix: {a: 1}}", "redis.key_prefix must be text"),
])
def test_bad_settings_files_name_the_key_at_fault(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=message):
        load_settings(path, environ={})


def test_missing_file_is_named():
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings("conf/nope.yaml", environ={})
