"""Glue between the migration classes in ``migrations/`` (async, driven by redis-om's DataMigrator)
and the synchronous engine. Each migration's ``up``/``down``/``can_run`` is one call here.

The work uses our own client from the settings (``REDIS_URL`` ...); redis-om's client
(``migration.redis``, from ``REDIS_OM_URL`` under ``om migrate-data``) only records which
migrations are applied. ``up`` refuses to start when the two point at different servers, since
the applied mark would then land on another server than the records.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any

import redis.asyncio
from aredis_om.model.migrations.data import BaseMigration

from ..core import capabilities, pools
from ..core.connector import Connector
from ..core.drivers import SyncDriver
from ..core.errors import MigrationRefusedError
from ..core.settings import RedisSettings
from . import options as run_options
from .options import RunOptions
from .report import StepStats

log = logging.getLogger("redis_client.migrate")

UpStep = Callable[[RedisSettings, str, RunOptions], StepStats]
DownStep = Callable[[RedisSettings, str], int]


class Migration(BaseMigration):  # type: ignore[misc]
    """Base of the classes in ``migrations/``: redis-om's ``BaseMigration`` whose client survives
    ``om migrate-data`` (see :func:`loop_safe`). Subclasses define ``migration_id``,
    ``description``, ``dependencies``, and ``up``/``down``/``can_run`` calling this module."""

    def __init__(self, redis_client: Any = None) -> None:
        super().__init__(redis_client)
        loop_safe(self.redis)


def loop_safe(client: Any) -> Any:
    """Let an asyncio client be used from one event loop after another.

    Workaround for redis-om 1.2.0's ``om migrate-data run/rollback``: each of their steps runs
    in a fresh event loop (``asyncio.run`` per call) on one shared asyncio client, whose pooled
    connection still belongs to the first loop ("got Future attached to a different loop").
    When the running loop changes, the pool forgets its connections (they belong to a closed
    loop) and opens new ones. Only the client handed to our migrations is touched.
    """
    pool = getattr(client, "connection_pool", None)
    if not isinstance(client, redis.asyncio.Redis) or pool is None:
        return client
    if getattr(pool, "_redis_client_loop_safe", False):
        return client
    original = pool.get_connection
    seen: dict[str, Any] = {"loop": None}

    async def get_connection(*args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        if seen["loop"] is not loop:
            if seen["loop"] is not None:
                pool.reset()
            seen["loop"] = loop
        return await original(*args, **kwargs)

    pool.get_connection = get_connection
    pool._redis_client_loop_safe = True
    return client


async def up(migration: Any, step: UpStep) -> None:
    """Run ``step`` to completion; it returns only when every record is written."""
    options = run_options.current()
    settings = options.resolved_settings()
    await check_same_server(migration, settings)
    step(settings, migration.migration_id, options)


async def down(migration: Any, step: DownStep) -> None:
    options = run_options.current()
    settings = options.resolved_settings()
    await check_same_server(migration, settings)
    deleted = step(settings, migration.migration_id)
    log.info("%s rolled back (%d keys deleted)", migration.migration_id, deleted)


async def can_run(migration: Any) -> bool:
    """False (DataMigrator then skips it, not marking it applied) without the JSON/search modules."""
    settings = run_options.current().resolved_settings()
    caps = _probe(settings)
    if not caps.models:
        log.error(
            "%s cannot run: %s %s",
            migration.migration_id, settings.describe(), caps.problem(),
        )
    return caps.models


def require_models(settings: RedisSettings) -> None:
    """Raise :class:`MigrationRefusedError` when the server lacks the JSON or search module."""
    caps = _probe(settings)
    if not caps.models:
        raise MigrationRefusedError(
            f"refusing to migrate: the Redis server at {settings.describe()} {caps.problem()}. "
            "Model records need the JSON and search modules on database 0 (Redis 8, Redis Stack, "
            "or `redis-client server`). Nothing was written."
        )


async def check_same_server(migration: Any, settings: RedisSettings) -> None:
    """Refuse when redis-om's client (the applied-migrations set) is another server or db than ours."""
    theirs = getattr(migration, "redis", None)
    if theirs is None:
        return
    try:
        info = theirs.info("server")
        if inspect.isawaitable(info):
            info = await info
    except Exception as exc:
        raise MigrationRefusedError(
            f"cannot reach redis-om's Redis (REDIS_OM_URL) to record applied migrations: "
            f"{type(exc).__name__}. Point REDIS_OM_URL at the same server as REDIS_URL "
            f"({settings.describe()})."
        ) from None
    ours = pools.get_client(settings).info("server")
    their_db = int(theirs.connection_pool.connection_kwargs.get("db", 0) or 0)
    our_db = int(pools.get_pool(settings).connection_kwargs.get("db", 0) or 0)
    if info.get("run_id") != ours.get("run_id") or their_db != our_db:
        raise MigrationRefusedError(
            "redis-om's connection (REDIS_OM_URL) and REDIS_URL point at different servers or "
            f"databases; the migration writes to {settings.describe()}. Point REDIS_OM_URL at "
            "the same server and database. Nothing was written."
        )


def _probe(settings: RedisSettings) -> capabilities.Capabilities:
    connector = Connector(settings)
    return SyncDriver(connector).run(capabilities.probe(connector.database))
