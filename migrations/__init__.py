"""Data migrations of the legacy keys into model records: one file per migration.

Each ``NNNN_name.py`` file defines ``migration_id``, ``description``, ``dependencies`` and the
synchronous functions ``up(ctx)``, ``dry_run(ctx)`` and ``down(ctx)`` (the shape is described in
``redis_client.migrate.discovery``); the order comes from the dependencies. Adding a migration
is adding a file. ``redis-client migrate`` runs them.

``MIGRATIONS`` (built on first access, so that ``redis-client migrate`` never imports redis-om's
asyncio machinery) holds them as redis-om ``BaseMigration`` classes, which is what
``DataMigrator(migration_module="redis_client.migrations")`` and
``om migrate-data run --module redis_client.migrations`` load.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "MIGRATIONS":
        from redis_client.migrate import discovery, om

        found = om.base_migrations(discovery.load(__name__))
        globals()["MIGRATIONS"] = found
        return found
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
