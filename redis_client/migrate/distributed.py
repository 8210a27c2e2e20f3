"""A partitioned migration step on Ray: one task per partition, all at once.

Partition ``i`` of ``n`` holds the source keys with ``crc32(key) % n == i``
(:class:`~redis_client.migrate.context.Partition`), so no key is handled twice; each task runs
the migration's own ``up`` (or ``dry_run``) with that partition in its context and has its own
checkpoint (``…:checkpoint:ray-{i}-of-{n}``), resumable like a single-process run. Tasks get the
package name, the migration ID and the settings, never a client: they load the migration and
connect in their own process. Ray is imported only here, and only when a run asks for it.
"""

from __future__ import annotations

import importlib.util
import logging
import time

from ..core.connector import Connector
from ..core.errors import MigrationFailedError, MigrationRefusedError, server_message
from ..core.settings import RedisSettings
from . import discovery
from .context import Context, Partition
from .report import StepStats, combined

log = logging.getLogger("redis_client.migrate")


def run_partition(
    package: str, migration_id: str, settings: RedisSettings, partition: Partition, batch_size: int,
    dry_run: bool,
) -> StepStats:
    """One partition of a migration's step (what a Ray task runs, in the worker's process)."""
    migration = discovery.find(discovery.load(package), migration_id)
    ctx = Context(migration_id, Connector(settings), batch_size=batch_size, partition=partition)
    return migration.dry_run(ctx) if dry_run else migration.up(ctx)


def run_on_ray(
    package: str, migration_id: str, settings: RedisSettings, *, workers: int, batch_size: int,
    dry_run: bool = False,
) -> StepStats:
    """Run every partition of ``workers`` as a Ray task and wait for all of them.

    Uses the Ray cluster of ``RAY_ADDRESS`` or one already initialised, else starts a local
    one. Raises :class:`MigrationFailedError` when a task failed (the others' work stays).
    """
    require_ray()
    import ray

    partitions = [Partition(i, workers) for i in range(workers)]
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    started = time.monotonic()
    task = ray.remote(run_partition)
    refs = [task.remote(package, migration_id, settings, p, batch_size, dry_run) for p in partitions]
    try:
        parts: list[StepStats] = ray.get(refs)
    except ray.exceptions.RayError as exc:
        cause = getattr(exc, "cause", None) or exc
        raise MigrationFailedError(
            f"{migration_id}: a Ray partition failed: {type(cause).__name__}: {_first_line(cause)}"
        ) from None
    total = combined(migration_id, parts)
    total.seconds = time.monotonic() - started
    total.notes.append(f"partitioned over {workers} Ray workers")
    log.info("%s: %d partitions on Ray done", migration_id, workers)
    return total


def require_ray() -> None:
    """Refuse (:class:`MigrationRefusedError`) when Ray is not installed."""
    if importlib.util.find_spec("ray") is None:
        raise MigrationRefusedError(
            "a run on Ray needs the ray extra: pip install 'twitter-agent-redis[ray]'"
        )


def _first_line(error: Exception) -> str:
    """An error's message without a remote traceback (and without redis-py's command echo)."""
    lines = server_message(error).strip().splitlines()
    return lines[0] if lines else ""
