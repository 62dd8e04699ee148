import pytest

from rolechat_common import identity
from memory import create_app
from memory.config import Config
from tests.support.redis_cluster import RedisClusterNode

SECRET = "memory-test-secret-0123456789abcdef0123"


def headers_for(user_id: str, issuer: str = identity.ISSUER_AUTH_PROXY) -> dict:
    token = identity.mint(identity.Identity(user_id, user_id), SECRET, issuer)
    return {identity.IDENTITY_HEADER: token}


@pytest.fixture
def config(redis_url):
    return Config(redis_url=redis_url, identity_secret=SECRET, max_conversations_per_user=5,
                  max_messages_per_conversation=6, max_instructions_chars=100, max_content_chars=1000,
                  max_body_bytes=4096)


@pytest.fixture
def app(config):
    return create_app(config)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(name="headers_for")
def headers_for_fixture():
    return headers_for


@pytest.fixture(name="secret")
def secret_fixture():
    return SECRET


@pytest.fixture
def alice():
    return headers_for("alice-id")


@pytest.fixture
def bob():
    return headers_for("bob-id")


@pytest.fixture(scope="session")
def cluster_url(tmp_path_factory):
    """A one-node Redis cluster owning every slot, as MemoryDB speaks it."""
    node = RedisClusterNode(tmp_path_factory.mktemp("redis-cluster"), tmp_path_factory.mktemp("redis-cluster-logs"))
    yield node.start().url
    node.stop()
