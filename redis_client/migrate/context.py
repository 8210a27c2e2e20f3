"""What a migration's ``up``, ``down`` and ``dry_run`` receive: an explicit :class:`Context`.

The context says where to connect (a ``Connector``: sync clients, the record operations through
``SyncDriver``; never a ``RedisDB``, whose first command would write ``function_variables``),
the batch size, the progress display, and, for a partitioned run, which share of the source keys
is this process's (:class:`Partition`).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis

from ..core import keys
from ..core.connector import Connector
from ..core.drivers import SyncDriver
from ..core.errors import InvalidArgumentError
from ..core.protocol import Op
from ..core.settings import RedisSettings
from . import state
from .progress import ProgressFactory, log_progress

T = TypeVar("T")

#: Records per pipelined write batch, and members per ZRANGE page of a big sorted set.
DEFAULT_BATCH_SIZE = 1000
#: Checkpoint name of a run over the whole keyspace.
WHOLE = "scan"


@dataclass(frozen=True)
class Partition:
    """Share ``index`` of ``count``: the source keys whose ``crc32(key) % count == index``.

    Every key belongs to exactly one partition, and to the same one on every run with the same
    ``count``, so partitions can run side by side (Ray tasks) and each resumes on its own.
    """

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise InvalidArgumentError(f"no partition {self.index} of {self.count}")

    def holds(self, key: bytes) -> bool:
        return zlib.crc32(key) % self.count == self.index

    @property
    def name(self) -> str:
        """The checkpoint name of this partition."""
        return f"ray-{self.index}-of-{self.count}"


@dataclass
class Context:
    migration_id: str
    connector: Connector
    batch_size: int = DEFAULT_BATCH_SIZE
    progress: ProgressFactory = log_progress
    #: Only this share of the source keys (None: all of them).
    partition: Partition | None = None
    _driver: SyncDriver | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise InvalidArgumentError("batch_size must be at least 1")

    @property
    def settings(self) -> RedisSettings:
        return self.connector.settings

    @property
    def checkpoint_name(self) -> str:
        return self.partition.name if self.partition is not None else WHOLE

    def client(self) -> redis.Redis[Any]:
        """The sync client with bytes replies (the first of a process waits for the server)."""
        return self.connector.client()

    @property
    def driver(self) -> SyncDriver:
        """Runs operations (``redis_client.records``, ``redis_client.core.indexes``)."""
        if self._driver is None:
            self._driver = SyncDriver(self.connector)
        return self._driver

    def run(self, op: Op[T]) -> T:
        return self.driver.run(op)

    def holds(self, key: bytes) -> bool:
        """Whether a source key is this run's to migrate."""
        return self.partition is None or self.partition.holds(key)

    def delete_records(self, model_prefix: str) -> int:
        """Delete every JSON record under ``redis_client_om:{model_prefix}:`` (what a ``down``
        usually does); returns how many were deleted."""
        return state.delete_matching(self.client(), keys.model_pattern(model_prefix), "ReJSON-RL")
