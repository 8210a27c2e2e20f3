"""``om``: the migration files as redis-om ``BaseMigration`` classes, under redis-om's own
``DataMigrator`` (``om migrate-data`` itself: ``test_migrate_cli.py``)."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any

import legacy_data
import pytest
import redis
import redis.asyncio
from aredis_om.model.migrations.data import BaseMigration, DataMigrationError, DataMigrator
from legacy_data import ALL_MIGRATIONS, Seeded, account_records, applied, assert_posts_exact

from redis_client import migrations
from redis_client.core import keys
from redis_client.core.settings import RedisSettings
from redis_client.embedded import EmbeddedRedis
from redis_client.migrate import commands, om

seeded = legacy_data.seeded  # the fixture


def _in_new_loop(coro: Coroutine[Any, Any, Any]) -> Any:
    """What ``om migrate-data`` does for each of its steps: ``asyncio.run`` in a new thread."""
    with concurrent.futures.ThreadPoolExecutor() as executor:
        return executor.submit(asyncio.run, coro).result()


def test_the_package_exposes_one_class_per_file() -> None:
    classes = migrations.MIGRATIONS
    assert [c.migration_id for c in classes] == ALL_MIGRATIONS
    assert all(issubclass(c, BaseMigration) for c in classes)
    assert classes[1].dependencies == ["0001_indexes"] and classes[1].description
    assert keys.APPLIED_MIGRATIONS == DataMigrator.APPLIED_MIGRATIONS_KEY  # one applied set for both


def test_data_migrator_runs_and_rolls_back(
    raw: redis.Redis, seeded: Seeded, redis_settings: RedisSettings
) -> None:
    async def run() -> int:
        client = redis.asyncio.Redis.from_url(redis_settings.url or "")
        try:
            migrator = DataMigrator(redis_client=client, migration_module="redis_client.migrations")
            assert [m.migration_id for m in await migrator.get_pending_migrations()] == ALL_MIGRATIONS
            count = await migrator.run_migrations()
            assert await migrator.rollback_migration("0003_accounts")
            return int(count)
        finally:
            await client.aclose()

    assert asyncio.run(run()) == 3
    assert applied(raw) == {"0001_indexes", "0002_posts"}
    assert_posts_exact(raw, seeded)
    assert account_records(raw) == {} and not raw.keys("redis_client_om:migration:0003_accounts:*")
    status = {s.migration_id: s.applied for s in commands.status(redis_settings)}
    assert status == {"0001_indexes": True, "0002_posts": True, "0003_accounts": False}


def test_redis_oms_client_alone_breaks_across_loops(redis_settings: RedisSettings) -> None:
    """Why the wrapper exists (redis-om 1.2.0 with redis-py 8): remove it when this fails."""
    client = redis.asyncio.Redis.from_url(redis_settings.url or "")
    _in_new_loop(client.ping())
    with pytest.raises(RuntimeError):
        _in_new_loop(client.ping())


def test_a_pool_per_loop_survives_new_event_loops(redis_settings: RedisSettings) -> None:
    client = om.pool_per_loop(redis.asyncio.Redis.from_url(redis_settings.url or ""))
    assert om.pool_per_loop(client) is client and isinstance(client.connection_pool, om.PoolPerLoop)
    for _ in range(3):
        assert _in_new_loop(client.ping())
    assert _in_new_loop(client.sadd("om-test", "x")) == 1
    assert client.connection_pool.connection_kwargs.get("db", 0) == 0


def test_the_migrations_under_redis_oms_cli_loops(
    raw: redis.Redis, seeded: Seeded, redis_settings: RedisSettings
) -> None:
    """``om migrate-data run`` then ``rollback``: one migrator, each step in a new loop."""
    migrator = DataMigrator(
        redis_client=redis.asyncio.Redis.from_url(redis_settings.url or ""),
        migration_module="redis_client.migrations",
    )
    assert len(_in_new_loop(migrator.get_pending_migrations())) == 3
    assert _in_new_loop(migrator.run_migrations()) == 3
    assert _in_new_loop(migrator.get_applied_migrations()) == set(ALL_MIGRATIONS)
    assert _in_new_loop(migrator.rollback_migration("0003_accounts"))
    assert applied(raw) == {"0001_indexes", "0002_posts"} and account_records(raw) == {}


def test_another_database_is_refused(raw: redis.Redis, seeded: Seeded, redis_settings: RedisSettings) -> None:
    other = (redis_settings.url or "").rsplit("/", 1)[0] + "/1"

    async def run() -> None:
        client = redis.asyncio.Redis.from_url(other)
        try:
            migrator = DataMigrator(redis_client=client, migration_module="redis_client.migrations")
            await migrator.run_migrations()
        finally:
            await client.aclose()

    with pytest.raises(DataMigrationError, match="REDIS_OM_URL"):
        asyncio.run(run())
    assert applied(raw) == set() and not raw.keys("redis_client_om:post:*")


def test_cannot_run_without_the_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    server = EmbeddedRedis(modules=False).start()
    try:
        monkeypatch.setenv("REDIS_URL", server.url)

        async def run() -> int:
            client = redis.asyncio.Redis.from_url(server.url)
            try:
                migrator = DataMigrator(redis_client=client, migration_module="redis_client.migrations")
                return int(await migrator.run_migrations())
            finally:
                await client.aclose()

        assert asyncio.run(run()) == 0  # each migration's can_run() said no: none applied
        assert redis.Redis.from_url(server.url).dbsize() == 0
    finally:
        server.stop()
