"""Options of one run, handed from the runner to the migrations' ``up()`` through a context var.

redis-om's ``DataMigrator`` calls ``up()`` without arguments, so the batch size, the dry-run flag,
the progress display and the list collecting each step's stats travel in a ``ContextVar``
(``asyncio.run`` copies the context into its task). Without one (``om migrate-data``), defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..core.settings import RedisSettings, load_settings
from .progress import LogProgress, Progress

if TYPE_CHECKING:
    from .report import StepStats

#: Posts (or accounts) per pipelined write batch, and per ZRANGE page of a big sorted set.
DEFAULT_BATCH_SIZE = 1000
#: COUNT hint of each SCAN call.
SCAN_COUNT = 1000

ProgressFactory = Callable[[str, "int | None", int, str], Progress]


def log_progress(desc: str, total: int | None, initial: int, unit: str) -> Progress:
    return LogProgress(desc, total, initial, unit)


@dataclass
class RunOptions:
    settings: RedisSettings | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    dry_run: bool = False
    progress: ProgressFactory = log_progress
    #: Partition the posts step over this many Ray workers (None: one process).
    ray_workers: int | None = None
    #: Stats of each step, appended by the step (also when it fails part-way).
    results: list[StepStats] = field(default_factory=list)

    def resolved_settings(self) -> RedisSettings:
        if self.settings is None:
            self.settings = load_settings()
        return self.settings


_current: ContextVar[RunOptions | None] = ContextVar("redis_client_migrate_options", default=None)


def current() -> RunOptions:
    """The options of the run in progress; defaults (settings from the environment) otherwise."""
    options = _current.get()
    return options if options is not None else RunOptions()


@contextmanager
def using(options: RunOptions) -> Iterator[RunOptions]:
    token = _current.set(options)
    try:
        yield options
    finally:
        _current.reset(token)
