import pytest
import redis

from conf.settings import load_settings
from infra import local_services
from tests.integration.harness import TEST_CONF


@pytest.fixture(scope="session")
def base_settings():
    return load_settings(TEST_CONF)


@pytest.fixture(scope="session")
def services(base_settings):
    """The real Kafka broker and Redis server; started here unless already running (then kept)."""
    with local_services.running(base_settings):
        yield base_settings


@pytest.fixture
def redis_client(services):
    client = redis.Redis(host=services.redis.host, port=services.redis.port, db=services.redis.db,
                         decode_responses=True)
    yield client
    client.close()
