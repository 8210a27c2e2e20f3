"""Finding the migrations of a package and ordering them by their dependencies.

A migration is one file ``NNNN_name.py`` of the package (``migrations`` by default), shaped like
an Alembic revision script::

    migration_id = "0004_example"            # unique
    description = "What it does, in one line"
    dependencies = ["0003_accounts"]         # IDs that must be applied first
    resync = False                           # up() may run again once applied (migrate resync)
    partitioned = False                      # up()/dry_run() honour ctx.partition (migrate run --ray)

    def up(ctx: Context) -> StepStats: ...       # write the records; return when complete
    def dry_run(ctx: Context) -> StepStats: ...  # count what up() would write; write nothing
    def down(ctx: Context) -> int: ...           # delete what up() wrote; keys deleted

File names start with digits, so they are not importable with an ``import`` statement; they are
imported by name (``importlib.import_module("redis_client.migrations.0002_posts")``), which works. The order
is a topological sort of the dependencies, ties broken by ID: no hand-kept list.
"""

from __future__ import annotations

import heapq
import importlib
import pkgutil
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ..core.errors import MigrationDefinitionError, UnknownMigrationError
from .context import Context
from .report import StepStats

#: The package ``redis-client migrate`` and ``om migrate-data --module redis_client.migrations`` use.
PACKAGE = "redis_client.migrations"
#: Module names that are migrations: digits, an underscore, a name.
FILE_NAME = re.compile(r"^[0-9]+_[A-Za-z0-9_]+$")

Step = Callable[[Context], StepStats]
Down = Callable[[Context], int]


@dataclass(frozen=True)
class Migration:
    id: str
    description: str
    dependencies: tuple[str, ...]
    up: Step
    dry_run: Step
    down: Down
    #: ``up`` only adds what is missing, so it may run again once applied (``migrate resync``).
    resync: bool = False
    #: ``up`` and ``dry_run`` migrate only ``ctx.partition``'s keys when it is set.
    partitioned: bool = False
    #: The module that defines it.
    module: str = ""


def load(package: str = PACKAGE) -> list[Migration]:
    """The migrations of ``package``, in dependency order."""
    try:
        root = importlib.import_module(package)
    except ImportError as exc:
        raise MigrationDefinitionError(f"cannot import the migrations package {package!r}: {exc}") from None
    paths = getattr(root, "__path__", None)
    if paths is None:
        raise MigrationDefinitionError(f"{package!r} is a module, not a package of migration files")
    names = sorted({info.name for info in pkgutil.iter_modules(paths) if FILE_NAME.match(info.name)})
    return ordered(from_module(importlib.import_module(f"{package}.{name}")) for name in names)


def from_module(module: ModuleType) -> Migration:
    """The migration a module defines; :class:`MigrationDefinitionError` says what is missing."""
    where = module.__name__

    def text(name: str) -> str:
        value = getattr(module, name, None)
        if not isinstance(value, str) or not value:
            raise MigrationDefinitionError(f"{where} must define {name} as a non-empty str")
        return value

    def function(name: str) -> Any:
        value = getattr(module, name, None)
        if not callable(value):
            raise MigrationDefinitionError(f"{where} must define a function {name}(ctx)")
        return value

    deps = getattr(module, "dependencies", ())
    if not isinstance(deps, (list, tuple)) or not all(isinstance(d, str) for d in deps):
        raise MigrationDefinitionError(f"{where}: dependencies must be a list of migration IDs")
    return Migration(
        id=text("migration_id"),
        description=text("description"),
        dependencies=tuple(deps),
        up=function("up"),
        dry_run=function("dry_run"),
        down=function("down"),
        resync=bool(getattr(module, "resync", False)),
        partitioned=bool(getattr(module, "partitioned", False)),
        module=where,
    )


def ordered(migrations: Iterable[Migration]) -> list[Migration]:
    """Topological order of the dependencies (Kahn's algorithm), ties broken by ID.

    Raises :class:`MigrationDefinitionError` on a duplicate ID, a dependency on an unknown ID,
    or a cycle (naming the migrations that cannot be ordered).
    """
    by_id: dict[str, Migration] = {}
    for migration in migrations:
        if migration.id in by_id:
            raise MigrationDefinitionError(
                f"migration ID {migration.id!r} is defined twice ({by_id[migration.id].module}, "
                f"{migration.module})"
            )
        by_id[migration.id] = migration
    waiting: dict[str, set[str]] = {}
    for mid, migration in by_id.items():
        unknown = [d for d in migration.dependencies if d not in by_id]
        if unknown:
            raise MigrationDefinitionError(f"{mid} depends on unknown migration(s) {', '.join(unknown)}")
        waiting[mid] = set(migration.dependencies)
    ready = [mid for mid, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    order: list[Migration] = []
    while ready:
        mid = heapq.heappop(ready)
        order.append(by_id[mid])
        for other, deps in waiting.items():
            if mid in deps:
                deps.discard(mid)
                if not deps:
                    heapq.heappush(ready, other)
    if len(order) < len(by_id):
        stuck = sorted(mid for mid, deps in waiting.items() if deps)
        raise MigrationDefinitionError(f"circular dependencies: {', '.join(stuck)} cannot be ordered")
    return order


def find(migrations: Sequence[Migration], migration_id: str) -> Migration:
    for migration in migrations:
        if migration.id == migration_id:
            return migration
    known = ", ".join(m.id for m in migrations) or "none"
    raise UnknownMigrationError(f"unknown migration {migration_id!r}; known: {known}")


def dependents(migrations: Sequence[Migration], migration_id: str) -> list[str]:
    """The IDs of the migrations that depend on ``migration_id`` directly."""
    return [m.id for m in migrations if migration_id in m.dependencies]
