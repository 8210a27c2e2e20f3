"""pytest fixtures: one embedded Redis (search + JSON) per test session, a clean keyspace per test.

Installed as a pytest plugin with the package. In your own tests::

    def test_my_bot(redis_db):          # the shared ``db``, pointed at the embedded server
        redis_db.add_user_post("alice", {...})

Fixtures: ``redis_server`` (session, the :class:`EmbeddedRedis`), ``redis_settings`` (session),
``redis_db`` (function: flushed keyspace, ``redis_client.main.db`` and the models pointed at the
server, ``REDIS_URL`` set for subprocesses).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .db import RedisDB
    from .embedded import EmbeddedRedis
    from .settings import RedisSettings


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
    from .settings import load_settings

    return load_settings(url=redis_server.url, startup_wait=5)


@pytest.fixture
def redis_db(
    redis_settings: RedisSettings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RedisDB]:
    """The shared ``db`` on a flushed keyspace of the session's server (indexes recreated on use)."""
    import models
    from models import binding

    from . import main

    monkeypatch.setenv("REDIS_URL", redis_settings.url or "")
    main.db.reconfigure(redis_settings)
    main.db.r.flushall()
    binding.forget()
    models.bind(redis_settings)
    yield main.db
    models.bind(None)
    main.db.reconfigure(None)
