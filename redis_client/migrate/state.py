"""The migrations' own bookkeeping in Redis: which are applied, their checkpoints and reports.

The applied set is redis-om's (``redis_om:applied_migrations``, the key ``DataMigrator`` uses), so
``redis-client migrate`` and ``om migrate-data`` agree on what is applied. A migration is
marked applied only after its ``up`` returned. Checkpoints and reports live under
``redis_client_om:migration:{id}:*``. Everything here reads or deletes only those keys, except
``delete_matching``, which deletes what its caller names (a ``down``'s records).
"""

from __future__ import annotations

import logging
from typing import Any

import redis

from ..core import codec, keys, scan
from .checkpoint import Checkpoint

log = logging.getLogger("redis_client.migrate")


def applied(client: redis.Redis[Any]) -> set[str]:
    return {codec.text(m, "surrogateescape") for m in client.smembers(keys.APPLIED_MIGRATIONS)}


def mark_applied(client: redis.Redis[Any], migration_id: str) -> None:
    client.sadd(keys.APPLIED_MIGRATIONS, migration_id)


def mark_unapplied(client: redis.Redis[Any], migration_id: str) -> None:
    client.srem(keys.APPLIED_MIGRATIONS, migration_id)


def has_state(client: redis.Redis[Any], migration_id: str) -> bool:
    """Whether the migration left checkpoints or a report (a run started, in any partition)."""
    return any(page for _, page in scan.pages(client, match=keys.migration_state_pattern(migration_id)))


def checkpoints(client: redis.Redis[Any], migration_id: str) -> list[Checkpoint]:
    """The checkpoint of every partition a run of this migration started."""
    found = []
    for _, page in scan.pages(client, match=keys.migration_checkpoint_pattern(migration_id)):
        for key in page:
            partition = keys.checkpoint_partition(codec.text(key, "surrogateescape"), migration_id)
            found.append(Checkpoint(client, migration_id, partition))
    return found


def counters(client: redis.Redis[Any], migration_id: str) -> dict[str, int]:
    """The counters of all the migration's checkpoints, summed."""
    total: dict[str, int] = {}
    for checkpoint in checkpoints(client, migration_id):
        for name, value in checkpoint.load()[1].items():
            total[name] = total.get(name, 0) + value
    return total


def reset_finished(client: redis.Redis[Any], migration_id: str) -> int:
    """Forget the checkpoints of finished partitions (a resync runs them again); unfinished
    ones are kept, so an interrupted resync resumes. Returns how many were reset."""
    reset = 0
    for checkpoint in checkpoints(client, migration_id):
        if checkpoint.load()[0].done:
            checkpoint.clear()
            reset += 1
    return reset


def forget(client: redis.Redis[Any], migration_id: str) -> int:
    """Delete the migration's checkpoints and report; returns how many keys were deleted."""
    return delete_matching(client, keys.migration_state_pattern(migration_id))


def delete_matching(client: redis.Redis[Any], pattern: str, key_type: str | None = None) -> int:
    """UNLINK every key matching ``pattern`` (and of ``key_type`` when given), page by page."""
    deleted = 0
    for _, page in scan.pages(client, match=pattern, key_type=key_type):
        if page:
            deleted += int(client.unlink(*page))
    log.info("deleted %d keys matching %s", deleted, pattern)
    return deleted
