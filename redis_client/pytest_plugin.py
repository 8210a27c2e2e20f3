"""pytest fixtures: one embedded Redis (search + JSON) per test session, a clean keyspace per test.

Installed as a pytest plugin with the package. In your own tests::

    def test_my_bot(redis_db):          # the shared ``db``, pointed at the embedded server
        redis_db.add_user_post("alice", {...})

    @pytest.mark.anyio                         # an async runner: anyio's plugin, or pytest-asyncio
    async def test_my_agent(async_redis_db):   # the same for asyncio code
        await async_redis_db.add_user_post("alice", {...})

Fixtures: ``redis_server`` (session, the :class:`EmbeddedRedis`), ``redis_settings`` (session),
``redis_db`` (function: flushed keyspace, ``redis_client.main.db`` and the models pointed at the
server, ``REDIS_URL`` set for subprocesses), ``async_redis_db`` (the same, with
``redis_client.aio.db``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .aio import AsyncRedisDB
    from .core.settings import RedisSettings
    from .db import RedisDB
    from .embedded import EmbeddedRedis


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """An embedded Redis with the search and JSON modules, for the whole test session."""
    from .embedded import EmbeddedRedis

    server = EmbeddedRedis(data_dir=tmp_path_factory.mktemp("redis-data"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_settings(redis_server: EmbeddedRedis) -> RedisSettings:
    from .core.settings import load_settings

    return load_settings(url=redis_server.url, startup_wait=5)


@pytest.fixture
def redis_db(redis_settings: RedisSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisDB]:
    """The shared ``db`` on a flushed keyspace of the session's server (indexes recreated on use)."""
    from redis_client import models

    from . import aio, main

    monkeypatch.setenv("REDIS_URL", redis_settings.url or "")
    models.bind(None)
    for shared in (main.db, aio.db):
        shared.reconfigure(redis_settings)  # one connector: the models use it too
    main.db.r.flushall()
    # The process's first command stores the prompt map: done here, so that a test starts
    # from a keyspace that holds only ``function_variables``, like a running deployment's.
    main.db.get_function_variables()
    aio.db._stored_in = main.db._stored_in
    yield main.db
    for shared in (main.db, aio.db):
        shared.reconfigure(None)


@pytest.fixture
def async_redis_db(redis_db: RedisDB) -> AsyncRedisDB:
    """``redis_client.aio.db`` on the flushed keyspace of the session's server (same as ``redis_db``)."""
    from . import aio

    return aio.db
