"""Drives the migrations of ``migrations/`` through redis-om's ``DataMigrator``.

redis-om records applied migrations (``redis_om:applied_migrations``) only after ``up()``
returned, and ``up()`` returns only when its step is complete: a run killed part-way is never
marked applied; it resumes from its checkpoint at the next run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis
import redis.asyncio

from ..core import keys, pools
from ..core.errors import MigrationRefusedError
from ..core.settings import RedisSettings
from . import options as run_options
from .checkpoint import Checkpoint
from .options import DEFAULT_BATCH_SIZE, SCAN_COUNT, ProgressFactory, RunOptions, log_progress
from .report import StepStats, report_size
from .steps import require_models

log = logging.getLogger("redis_client.migrate")

MIGRATION_MODULE = "migrations"
T = TypeVar("T")


def async_client(settings: RedisSettings) -> redis.asyncio.Redis:
    """An asyncio client on the same server as ``settings`` (for DataMigrator's bookkeeping)."""
    kwargs: dict[str, Any] = {
        "socket_timeout": settings.socket_timeout,
        "socket_connect_timeout": settings.socket_connect_timeout,
    }
    if settings.username:
        kwargs["username"] = settings.username
    if settings.password is not None:
        kwargs["password"] = settings.password.get_secret_value()
    ssl = {
        "ssl_ca_certs": settings.ssl_ca_certs,
        "ssl_certfile": settings.ssl_certfile,
        "ssl_keyfile": settings.ssl_keyfile,
        "ssl_cert_reqs": settings.ssl_cert_reqs,
    }
    if settings.url:
        if settings.url.startswith("rediss://"):
            kwargs.update(ssl)
        return redis.asyncio.Redis.from_url(settings.url, **kwargs)
    if settings.ssl:
        kwargs.update(ssl, ssl=True)
    return redis.asyncio.Redis(host=settings.host, port=settings.port, db=settings.db, **kwargs)


def with_migrator(
    settings: RedisSettings, work: Callable[[Any], Awaitable[T]], opts: RunOptions | None = None
) -> T:
    """Run ``work(migrator)`` on a fresh event loop with a DataMigrator on our server.

    The migrations' steps see ``opts`` (default: just these settings).
    """
    from aredis_om.model.migrations.data import DataMigrator

    async def main() -> T:
        client: Any = async_client(settings)
        try:
            # Always name the module: without it DataMigrator loads redis-om's built-in migration.
            migrator = DataMigrator(redis_client=client, migration_module=MIGRATION_MODULE)
            return await work(migrator)
        finally:
            await client.aclose()

    with run_options.using(opts or RunOptions(settings=settings)):
        return asyncio.run(main())


@dataclass
class RunResult:
    pending: list[str]
    applied: list[str] = field(default_factory=list)
    steps: list[StepStats] = field(default_factory=list)
    dry_run: bool = False


def run(
    settings: RedisSettings,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    progress: ProgressFactory = log_progress,
    results: list[StepStats] | None = None,
    ray_workers: int | None = None,
) -> RunResult:
    """Apply the pending migrations (or, with ``dry_run``, count what they would write).

    Raises :class:`MigrationRefusedError` on a server without the JSON/search modules, and
    redis-om's ``DataMigrationError`` when a migration fails (it stays pending; rerun resumes);
    the stats of the steps that ran are then in ``results`` when given.
    """
    require_models(settings)
    opts = RunOptions(
        settings=settings, batch_size=batch_size, dry_run=dry_run, progress=progress,
        ray_workers=ray_workers,
    )
    if results is not None:  # the caller keeps the steps' stats even when a migration fails
        opts.results = results

    async def work(migrator: Any) -> RunResult:
        pending = [m.migration_id for m in await migrator.get_pending_migrations()]
        result = RunResult(pending=pending, steps=opts.results, dry_run=dry_run)
        if dry_run:
            for migration in await migrator.get_pending_migrations():
                await migration.up()  # the steps see dry_run and write nothing
            return result
        before = await migrator.get_applied_migrations()
        await migrator.run_migrations(verbose=False)
        after = await migrator.get_applied_migrations()
        result.applied = [m for m in pending if m in after and m not in before]
        return result

    return with_migrator(settings, work, opts)


@dataclass
class MigrationInfo:
    migration_id: str
    description: str
    dependencies: list[str]
    applied: bool
    #: A checkpoint exists (a run started; with ``applied`` False: interrupted, resumes).
    started: bool
    counters: dict[str, int]
    reported: int


def status(settings: RedisSettings) -> list[MigrationInfo]:
    client = pools.get_client(settings, decode=False)

    async def work(migrator: Any) -> list[MigrationInfo]:
        found = await migrator.discover_migrations()
        applied = await migrator.get_applied_migrations()
        order = list(found)  # MIGRATIONS lists them in dependency order
        infos = []
        for mid in order:
            migration = found[mid]
            checkpoint = Checkpoint(client, mid)
            _, counters = checkpoint.load()
            infos.append(
                MigrationInfo(
                    mid, migration.description, list(migration.dependencies), mid in applied,
                    has_state(client, mid), counters, report_size(client, mid),
                )
            )
        return infos

    return with_migrator(settings, work)


def rollback(settings: RedisSettings, migration_id: str | None = None) -> list[str]:
    """Roll back one migration, or (None) every applied or started one, newest first.

    A migration another applied migration depends on is refused until that one is rolled back.
    An interrupted (started, not applied) run is rolled back too: its partial records go.
    Returns the ids rolled back.
    """
    client = pools.get_client(settings, decode=False)

    async def work(migrator: Any) -> list[str]:
        found = await migrator.discover_migrations()
        order = list(found)
        if migration_id is not None and migration_id not in found:
            raise MigrationRefusedError(
                f"unknown migration {migration_id!r}; known: {', '.join(order)}"
            )
        targets = [migration_id] if migration_id else list(reversed(order))
        done = []
        for mid in targets:
            applied = await migrator.get_applied_migrations()
            started = has_state(client, mid)
            if mid not in applied and not started:
                continue
            dependents = [d for d in order if mid in found[d].dependencies and d in applied]
            if dependents:
                raise MigrationRefusedError(
                    f"cannot roll back {mid}: {', '.join(dependents)} depend(s) on it and "
                    "is applied; roll that back first (or run `migrate rollback` without an ID)"
                )
            if mid in applied:
                await migrator.rollback_migration(mid, verbose=False)
            else:
                await found[mid].down()
            done.append(mid)
        return done

    return with_migrator(settings, work)


def has_state(client: redis.Redis, migration_id: str) -> bool:
    """Whether the migration left checkpoints or a report (a run started, in any partition)."""
    pattern = keys.migration_state_pattern(migration_id)
    return next(iter(client.scan_iter(match=pattern, count=SCAN_COUNT)), None) is not None


def applied_migrations(settings: RedisSettings) -> set[str]:
    client = pools.get_client(settings, decode=True)
    return {str(m) for m in client.smembers(keys.APPLIED_MIGRATIONS)}
