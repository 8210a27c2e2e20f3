"""The ``redis-client migrate`` commands as plain functions returning result objects.

Each connects through the core layer (``Connector``: settings, startup wait, pools) and raises
only :class:`~redis_client.core.errors.RedisClientError` subclasses:
:class:`MigrationRefusedError` (nothing was done: no JSON/search module, an unreachable server,
bad settings, an unknown ID, a batch size or worker count below 1, a rollback in the wrong
order) and :class:`MigrationFailedError` (stopped part-way; what was written stays and the next
run resumes). A migration step that fails during ``run`` or ``resync`` is not raised: the result
says which and why (``RunResult.failed``).

The migrations come from a package of migration files (``migrations`` unless ``package`` says
otherwise; see ``discovery``). These commands, and the shipped migrations, only read legacy keys.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import redis

from ..core import capabilities
from ..core.connector import Connector
from ..core.drivers import SyncDriver
from ..core.errors import MigrationFailedError, MigrationRefusedError, RedisClientError, server_message
from ..core.settings import RedisSettings, load_settings
from ..records.bad import BadEntry
from . import discovery, distributed, state
from . import inventory as keyspace
from . import verify as comparison
from .context import DEFAULT_BATCH_SIZE, Context, Partition
from .discovery import PACKAGE, Migration
from .inventory import Inventory
from .progress import ProgressFactory, log_progress
from .report import StepStats, iter_report, report_size
from .verify import VerifyResult

log = logging.getLogger("redis_client.migrate")

__all__ = [
    "MigrationStatus", "RollbackResult", "RunResult", "connect", "inventory", "report", "resync",
    "rollback", "run", "run_on_ray", "run_step", "status", "undo", "verify",
]


@dataclass
class RunResult:
    #: The migrations this run set out to run, in order.
    pending: list[str]
    #: Those it marked applied.
    applied: list[str] = field(default_factory=list)
    #: What each step did, in order (the failed one's partial work is not included).
    steps: list[StepStats] = field(default_factory=list)
    dry_run: bool = False
    #: The migration that failed (it stays pending; ``run`` resumes it), and why.
    failed: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.failed is None


@dataclass(frozen=True)
class MigrationStatus:
    migration_id: str
    description: str
    dependencies: tuple[str, ...]
    applied: bool
    #: A run left checkpoints or a report (with ``applied`` False: interrupted, ``run`` resumes).
    started: bool
    #: The checkpoints' counters, summed over partitions.
    counters: dict[str, int]
    #: Bad entries in its report.
    reported: int


@dataclass
class RollbackResult:
    #: The migrations rolled back, in the order it happened (dependents first).
    rolled_back: list[str] = field(default_factory=list)
    #: Keys deleted (records and the migrations' own state).
    deleted: int = 0


def connect(settings: RedisSettings | None = None, *, models: bool = True) -> Connector:
    """A connector on a server that answers (and, with ``models``, has the JSON and search
    modules on database 0); :class:`MigrationRefusedError` saying why not otherwise."""
    try:
        connector = Connector(settings if settings is not None else load_settings())
        connector.client()  # the startup wait (REDIS_STARTUP_WAIT)
        if not models:
            return connector
        caps = SyncDriver(connector).run(capabilities.probe(connector.database))
    except MigrationRefusedError:
        raise
    except (RedisClientError, redis.RedisError, OSError) as exc:
        raise MigrationRefusedError(_describe(exc)) from None
    if not caps.models:
        raise MigrationRefusedError(
            f"refusing to migrate: the Redis server at {connector.describe()} {caps.problem()}. "
            "Model records need the JSON and search modules on database 0 (Redis 8, Redis Stack, "
            "or `redis-client server`). Nothing was written."
        )
    return connector


def run(
    settings: RedisSettings | None = None, *, batch_size: int = DEFAULT_BATCH_SIZE, dry_run: bool = False,
    progress: ProgressFactory = log_progress, package: str = PACKAGE,
) -> RunResult:
    """Apply the pending migrations in dependency order (``dry_run``: count what they would
    write, write nothing). Each is marked applied once its ``up`` returned, i.e. complete."""
    _valid(batch_size)
    return _run(settings, batch_size=batch_size, dry_run=dry_run, progress=progress, package=package)


def run_on_ray(
    settings: RedisSettings | None = None, *, workers: int = 2, batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False, progress: ProgressFactory = log_progress, package: str = PACKAGE,
) -> RunResult:
    """``run``, with each partitioned migration (``0002_posts``) split over ``workers`` Ray tasks
    by ``crc32(key) % workers``; the others run in this process. Same final state as ``run``."""
    _valid(batch_size, workers)
    distributed.require_ray()
    return _run(
        settings, batch_size=batch_size, dry_run=dry_run, progress=progress, package=package,
        workers=workers,
    )


def resync(
    settings: RedisSettings | None = None, *, batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressFactory = log_progress, workers: int | None = None, package: str = PACKAGE,
) -> RunResult:
    """Run the ``up`` of the applied ``resync`` migrations again, for the legacy keys other
    services wrote since: they only add what is missing, so no record is removed (no gap, unlike
    rollback + run). Finished checkpoints are reset first; an interrupted resync resumes.
    Refused unless every ``resync`` migration is applied."""
    _valid(batch_size, workers)
    connector = connect(settings)
    targets = [m for m in discovery.load(package) if m.resync]
    client = connector.client()
    with _failures("reading the applied migrations"):
        done = state.applied(client)
    missing = [m.id for m in targets if m.id not in done]
    if missing:
        raise MigrationRefusedError(f"{', '.join(missing)} not applied yet: `redis-client migrate run` first")
    result = RunResult(pending=[m.id for m in targets])
    for migration in targets:
        ctx = Context(migration.id, connector, batch_size, progress)
        try:
            state.reset_finished(client, migration.id)
            result.steps.append(_step(migration, ctx, dry_run=False, workers=workers, package=package))
        except MigrationRefusedError:
            raise
        except Exception as exc:  # reported in the result, like run's
            _fail(result, migration, exc)
            break
    return result


def run_step(
    migration_id: str, settings: RedisSettings | None = None, *, batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False, fresh: bool = False, partition: Partition | None = None,
    workers: int | None = None, progress: ProgressFactory = log_progress, package: str = PACKAGE,
) -> StepStats:
    """One migration's ``up`` (or ``dry_run``) on its own, applied or not, never marking it:
    for benchmarks and partial runs. ``fresh`` forgets its checkpoints first (records stay);
    ``partition`` runs one share of a partitioned migration, ``workers`` all shares on Ray."""
    _valid(batch_size, workers)
    connector = connect(settings)
    migration = discovery.find(discovery.load(package), migration_id)
    if (partition is not None or workers) and not migration.partitioned:
        raise MigrationRefusedError(f"{migration_id} does not run in partitions")
    ctx = Context(migration.id, connector, batch_size, progress, partition)
    with _failures(migration_id):
        if fresh:
            for checkpoint in state.checkpoints(ctx.client(), migration_id):
                checkpoint.clear()
        return _step(migration, ctx, dry_run=dry_run, workers=workers, package=package)


def status(settings: RedisSettings | None = None, *, package: str = PACKAGE) -> list[MigrationStatus]:
    """Every migration in order: applied, pending, or interrupted (started, not applied)."""
    connector = connect(settings, models=False)
    migrations = discovery.load(package)
    with _failures("status"):
        client = connector.client()
        done = state.applied(client)
        return [_status(client, m, m.id in done) for m in migrations]


def _status(client: redis.Redis[Any], migration: Migration, applied: bool) -> MigrationStatus:
    counters = state.counters(client, migration.id)
    reported = report_size(client, migration.id)
    # Counters come from a checkpoint and a report is state too: only without either does it
    # take a SCAN (``Checkpoint.commit`` may store a checkpoint without counters).
    started = bool(counters) or reported > 0 or state.has_state(client, migration.id)
    return MigrationStatus(
        migration.id, migration.description, migration.dependencies, applied, started, counters,
        reported,
    )


def report(
    migration_id: str, settings: RedisSettings | None = None, *, package: str = PACKAGE
) -> Iterator[BadEntry]:
    """Every bad entry the migration skipped (streamed from its report)."""
    connector = connect(settings, models=False)
    discovery.find(discovery.load(package), migration_id)
    return _entries(connector, migration_id)


def verify(settings: RedisSettings | None = None, *, batch_size: int = DEFAULT_BATCH_SIZE) -> VerifyResult:
    """Legacy keys against records, per account (``VerifyResult.ok``: nothing is missing)."""
    connector = connect(settings)
    with _failures("verify"):
        return comparison.compare(connector, batch_size)


def rollback(
    migration_id: str | None = None, settings: RedisSettings | None = None, *, package: str = PACKAGE,
) -> RollbackResult:
    """Roll back one migration, or (None) every applied or started one, dependents first.

    A rollback deletes the migration's records (its ``down``) and its state, and marks it
    unapplied; legacy keys are never touched. An interrupted run is rolled back too. Refused
    while a migration that depends on the one named is applied.
    """
    connector = connect(settings)
    migrations = discovery.load(package)
    targets = [discovery.find(migrations, migration_id)] if migration_id else migrations[::-1]
    client = connector.client()
    result = RollbackResult()
    with _failures("rollback"):
        for migration in targets:
            done = state.applied(client)
            if migration.id not in done and not state.has_state(client, migration.id):
                continue
            blocking = [d for d in discovery.dependents(migrations, migration.id) if d in done]
            if blocking:
                raise MigrationRefusedError(
                    f"cannot roll back {migration.id}: {', '.join(blocking)} depend(s) on it and is "
                    "applied; roll that back first (or run `migrate rollback` without an ID)"
                )
            result.deleted += undo(migration, Context(migration.id, connector))
            state.mark_unapplied(client, migration.id)
            result.rolled_back.append(migration.id)
    return result


def undo(migration: Migration, ctx: Context) -> int:
    """The migration's ``down``, then its checkpoints and report; returns the keys deleted.

    In this order, a rollback killed part-way leaves the migration applied or started, so
    running the rollback again finishes it.
    """
    deleted = migration.down(ctx)
    return deleted + state.forget(ctx.client(), migration.id)


def inventory(settings: RedisSettings | None = None) -> Inventory:
    """Keys per documented pattern and type; the keys that match none (any server)."""
    connector = connect(settings, models=False)
    with _failures("inventory"):
        return keyspace.scan_keyspace(connector.client())


# --- internals ---


def _valid(batch_size: int, workers: int | None = None) -> None:
    if batch_size < 1:
        raise MigrationRefusedError("the batch size must be at least 1")
    if workers is not None and workers < 1:
        raise MigrationRefusedError("the number of Ray workers must be at least 1")


def _run(
    settings: RedisSettings | None, *, batch_size: int, dry_run: bool, progress: ProgressFactory,
    package: str, workers: int | None = None,
) -> RunResult:
    connector = connect(settings)
    migrations = discovery.load(package)
    client = connector.client()
    with _failures("reading the applied migrations"):
        done = state.applied(client)
    pending = [m for m in migrations if m.id not in done]
    result = RunResult(pending=[m.id for m in pending], dry_run=dry_run)
    for migration in pending:
        ctx = Context(migration.id, connector, batch_size, progress)
        try:
            result.steps.append(_step(migration, ctx, dry_run=dry_run, workers=workers, package=package))
            if not dry_run:
                state.mark_applied(client, migration.id)
                result.applied.append(migration.id)
        except MigrationRefusedError:
            raise
        except Exception as exc:  # the result says which failed and why; nothing is marked
            _fail(result, migration, exc)
            break
    return result


def _step(
    migration: Migration, ctx: Context, *, dry_run: bool, workers: int | None, package: str
) -> StepStats:
    started = time.monotonic()
    if workers and migration.partitioned and ctx.partition is None:
        stats = distributed.run_on_ray(
            package, migration.id, ctx.settings, workers=workers, batch_size=ctx.batch_size, dry_run=dry_run
        )
    else:
        stats = migration.dry_run(ctx) if dry_run else migration.up(ctx)
    if not stats.seconds:
        stats.seconds = time.monotonic() - started
    return stats


def _fail(result: RunResult, migration: Migration, exc: Exception) -> None:
    result.failed, result.error = migration.id, _describe(exc)
    expected = isinstance(exc, (RedisClientError, redis.RedisError, OSError))
    log.log(logging.DEBUG if expected else logging.ERROR, "%s failed", migration.id, exc_info=True)


def _entries(connector: Connector, migration_id: str) -> Iterator[BadEntry]:
    with _failures("reading the report"):
        yield from iter_report(connector.client(), migration_id)


@contextmanager
def _failures(what: str) -> Iterator[None]:
    """Errors of the server or the connection as :class:`MigrationFailedError`."""
    try:
        yield
    except RedisClientError:
        raise
    except (redis.RedisError, OSError) as exc:
        raise MigrationFailedError(f"{what} failed: {_describe(exc)}") from None


def _describe(exc: Exception) -> str:
    """An error's class and message; a redis-py pipeline's echo of the command (which may hold
    values) left out."""
    if isinstance(exc, RedisClientError):
        return str(exc)
    return f"{type(exc).__name__}: {server_message(exc)}"
