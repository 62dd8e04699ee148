"""Fixtures every test folder can use: a private Redis on its own port (never the machine's own)."""
from __future__ import annotations

import pytest

from tests.support.processes import RedisServer


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis-data"), tmp_path_factory.mktemp("redis-logs")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server):
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url
