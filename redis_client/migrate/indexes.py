"""The indexes step: the search indexes of the models (created or rebuilt, never their documents)."""

from __future__ import annotations

import logging
from typing import Any

import redis

from .. import connection, indexes, keys
from ..settings import RedisSettings
from .options import RunOptions
from .report import StepStats

log = logging.getLogger("redis_client.migrate")

MIGRATION_ID = "0001_indexes"


def _models() -> list[Any]:
    import models  # noqa: F401  (registers Post and TwitterAccount)
    from models import binding

    return binding.registered_models()


def outdated_indexes(client: redis.Redis) -> list[str]:
    """Names of the model indexes that are missing or whose schema changed."""
    existing = {n.decode() if isinstance(n, bytes) else str(n) for n in client.execute_command("FT._LIST")}
    out = []
    for model in _models():
        name = model._meta.index_name
        stored = client.get(keys.schema_hash_key(name))
        stored = stored.decode() if isinstance(stored, bytes) else stored
        if name not in existing or stored != indexes.schema_hash(model):
            out.append(name)
    return out


def create_indexes(settings: RedisSettings, migration_id: str, options: RunOptions) -> StepStats:
    client = connection.get_client(settings, decode=True)
    stats = StepStats(migration_id, unit="indexes", dry_run=options.dry_run)
    options.results.append(stats)
    todo = outdated_indexes(client)
    stats.items = len(_models())
    if options.dry_run:
        stats.created = len(todo)
        stats.notes += [f"would create or rebuild index {name}" for name in todo]
        return stats
    built = indexes.ensure_indexes(client, _models())
    stats.created = len(built)
    stats.notes += [f"created or rebuilt index {name}" for name in built]
    return stats


def drop_indexes(settings: RedisSettings, migration_id: str) -> int:
    """Drop the model indexes (the records stay) and their schema hashes."""
    from models import binding

    client = connection.get_client(settings, decode=True)
    indexes.drop_indexes(client, _models())
    binding.forget()  # this process would otherwise believe them still there
    return 0
