"""Fixtures every test folder can use: a private Redis on its own port (never the machine's own)."""
from __future__ import annotations

import pytest

from tests.support.processes import RedisServer

RUN_LAST = "tests/test_log_scan.py"  # it reads the logs of everything that ran before it


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=lambda item: item.nodeid.startswith(RUN_LAST))  # a stable sort: the rest keep their order


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
