"""The search indexes of ``Post`` and ``TwitterAccount``.

Migration ID: 0001_indexes
Depends on: nothing

``up`` creates each index that is missing or whose schema changed (a changed one is dropped and
created again: the records stay); ``down`` drops the indexes, never their records.
"""

from __future__ import annotations

from redis_client.core import indexes
from redis_client.migrate.context import Context
from redis_client.migrate.report import StepStats
from redis_client.models import binding  # importing models registers the Post and TwitterAccount indexes

migration_id = "0001_indexes"
description = "Create the Post and TwitterAccount search indexes"
dependencies: list[str] = []


def _specs() -> list[indexes.IndexSpec]:
    return indexes.registered()


def up(ctx: Context) -> StepStats:
    stats = StepStats(migration_id, unit="indexes", items=len(_specs()))
    built = ctx.run(indexes.ensure_indexes(_specs(), ctx.settings))
    stats.created = len(built)
    stats.notes += [f"created or rebuilt index {name}" for name in built]
    return stats


def dry_run(ctx: Context) -> StepStats:
    stats = StepStats(migration_id, unit="indexes", items=len(_specs()), dry_run=True)
    todo = ctx.run(indexes.outdated(_specs(), ctx.settings))
    stats.created = len(todo)
    stats.notes += [f"would create or rebuild index {name}" for name in todo]
    return stats


def down(ctx: Context) -> int:
    ctx.run(indexes.drop_indexes(_specs()))
    binding.forget()  # the models of this process would otherwise believe the indexes still there
    return 0
