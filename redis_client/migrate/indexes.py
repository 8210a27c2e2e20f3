"""The indexes step: the search indexes of the models (created or rebuilt, never their documents)."""

from __future__ import annotations

import logging

from ..core import indexes
from ..core.connector import Connector
from ..core.drivers import SyncDriver
from ..core.settings import RedisSettings
from .options import RunOptions
from .report import StepStats

log = logging.getLogger("redis_client.migrate")

MIGRATION_ID = "0001_indexes"


def _specs() -> list[indexes.IndexSpec]:
    import models  # noqa: F401  (registers Post and TwitterAccount)

    return indexes.registered()


def create_indexes(settings: RedisSettings, migration_id: str, options: RunOptions) -> StepStats:
    driver = SyncDriver(Connector(settings))
    stats = StepStats(migration_id, unit="indexes", dry_run=options.dry_run)
    options.results.append(stats)
    todo = driver.run(indexes.outdated(_specs()))
    stats.items = len(_specs())
    if options.dry_run:
        stats.created = len(todo)
        stats.notes += [f"would create or rebuild index {name}" for name in todo]
        return stats
    built = driver.run(indexes.ensure_indexes(_specs()))
    stats.created = len(built)
    stats.notes += [f"created or rebuilt index {name}" for name in built]
    return stats


def drop_indexes(settings: RedisSettings, migration_id: str) -> int:
    """Drop the model indexes (the records stay) and their schema hashes."""
    from models import binding

    SyncDriver(Connector(settings)).run(indexes.drop_indexes(_specs()))
    binding.forget()  # this process would otherwise believe them still there
    return 0
