"""The migrations as redis-om ``BaseMigration`` classes, for ``DataMigrator`` and ``om migrate-data``.

``migrations.MIGRATIONS`` is built here: one class per migration file, whose async ``up`` and
``down`` run the file's synchronous functions in a worker thread (``asyncio.to_thread``: the
event loop stays free) with a context on the server of the settings (``REDIS_URL`` ...).
redis-om records applied migrations through its own client (``REDIS_OM_URL`` under ``om
migrate-data``); ``up`` and ``down`` refuse to start when that client and the settings point at
different servers or databases, since the applied mark would land elsewhere than the records.
This is the only module of the migration that uses asyncio.

redis-om 1.2.0's ``om migrate-data run`` and ``rollback`` run each of their steps with
``asyncio.run`` in a new thread, so in a new event loop, on one asyncio client made once. A
connection pooled in one loop cannot be used from the next ("got Future attached to a different
loop"), and the first to trip on it is redis-om's own bookkeeping (``SMEMBERS
redis_om:applied_migrations``), before any migration runs. That client is handed to each
migration's constructor, which sets its ``connection_pool`` to a :class:`PoolPerLoop`: a
genuine redis-py pool for each event loop, made from the client's own connection settings, so
no connection is used outside the loop that opened it. No method of redis-py or redis-om is
replaced; the pools of finished loops go with their loops.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import Sequence
from typing import Any, ClassVar

import redis.asyncio
from aredis_om.model.migrations.data import BaseMigration

from ..core.connector import Connector
from ..core.errors import MigrationRefusedError
from . import commands
from .context import Context
from .discovery import Migration

log = logging.getLogger("redis_client.migrate")


class PoolPerLoop:
    """Stands in for an asyncio client's connection pool: each event loop gets its own pool,
    built like ``template`` (same connection class, settings and size), and every attribute
    the client asks for is the running loop's pool's."""

    def __init__(self, template: redis.asyncio.ConnectionPool[Any]) -> None:
        self._template = template
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.ConnectionPool[Any]]
        self._pools = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def current(self) -> redis.asyncio.ConnectionPool[Any]:
        """The running loop's pool (outside a loop: the template, for attributes only)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return self._template
        with self._lock:
            pool = self._pools.get(loop)
            if pool is None:
                t = self._template
                pool = type(t)(
                    connection_class=t.connection_class, max_connections=t.max_connections,
                    **t.connection_kwargs,
                )
                self._pools[loop] = pool
            return pool

    def __getattr__(self, name: str) -> Any:
        return getattr(self.current(), name)


def pool_per_loop(client: Any) -> Any:
    """Give an asyncio client (redis-om's) one pool per event loop; other clients unchanged."""
    if isinstance(client, redis.asyncio.Redis):
        pool = client.connection_pool
        if type(pool) is redis.asyncio.ConnectionPool:
            client.connection_pool = PoolPerLoop(pool)
    return client


class MigrationAdapter(BaseMigration):
    """Base of the generated classes: a migration file as a redis-om data migration."""

    migration: ClassVar[Migration]

    def __init__(self, redis_client: Any = None) -> None:
        super().__init__(redis_client)  # type: ignore[no-untyped-call]  # redis-om's client: records applied
        pool_per_loop(self.redis)
        #: The connector ``can_run`` checked, for the ``up`` that follows it.
        self._checked: Connector | None = None

    async def can_run(self) -> bool:
        """False (``DataMigrator`` then skips it, unmarked) without the JSON and search modules."""
        try:
            self._checked = await asyncio.to_thread(commands.connect)
        except MigrationRefusedError as exc:
            log.error("%s cannot run: %s", self.migration_id, exc)
            return False
        return True

    async def up(self) -> None:
        """The file's ``up``: returns when the migration is complete (then redis-om marks it)."""
        ctx = Context(self.migration.id, await self._connector())
        stats = await asyncio.to_thread(self.migration.up, ctx)
        log.info("%s: %d %s, %d created, %d skipped", stats.migration_id, stats.items, stats.unit,
                 stats.created, stats.skipped)

    async def down(self) -> None:
        """The file's ``down``, then the migration's checkpoints and report."""
        ctx = Context(self.migration.id, await self._connector())
        deleted = await asyncio.to_thread(commands.undo, self.migration, ctx)
        log.info("%s rolled back (%d keys deleted)", self.migration.id, deleted)

    async def _connector(self) -> Connector:
        """The connector ``can_run`` checked (used once), else a new one."""
        connector, self._checked = self._checked, None
        if connector is None:
            connector = await asyncio.to_thread(commands.connect)
        await self._same_server(connector)
        return connector

    async def _same_server(self, connector: Connector) -> None:
        """Refuse when redis-om's client is on another server or database than the settings."""
        try:
            theirs = await self.redis.info("server")
        except Exception as exc:
            raise MigrationRefusedError(
                f"cannot reach redis-om's Redis (REDIS_OM_URL) to record applied migrations: "
                f"{type(exc).__name__}. Point REDIS_OM_URL at the same server as REDIS_URL "
                f"({connector.describe()})."
            ) from None
        ours = await asyncio.to_thread(connector.client().info, "server")
        their_db = int(self.redis.connection_pool.connection_kwargs.get("db", 0) or 0)
        if theirs.get("run_id") != ours.get("run_id") or their_db != connector.database:
            raise MigrationRefusedError(
                "redis-om's connection (REDIS_OM_URL) and REDIS_URL point at different servers or "
                f"databases; the migration writes to {connector.describe()}. Point REDIS_OM_URL at "
                "the same server and database. Nothing was written."
            )


def base_migrations(migrations: Sequence[Migration]) -> list[type[MigrationAdapter]]:
    """One ``BaseMigration`` class per migration, in the given (dependency) order."""
    return [
        type(
            f"Migration_{m.id}",
            (MigrationAdapter,),
            {
                "migration_id": m.id,
                "description": m.description,
                "dependencies": list(m.dependencies),
                "migration": m,
                "__module__": m.module or __name__,
            },
        )
        for m in migrations
    ]
