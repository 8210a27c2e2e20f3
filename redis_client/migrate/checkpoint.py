"""Checkpoints in Redis, so that a run killed at any moment resumes where it stood.

One checkpoint per (migration, partition): a hash ``...:checkpoint:{partition}`` with the SCAN
cursor of the page being processed (on a cluster, with the topology it holds for), the source
key in progress and the offset inside it, and
the step's counters; plus a set ``...:done:{partition}`` of the page's keys already finished.
It is committed (MULTI/EXEC, one round trip) only after the batch it describes was written, so
after a crash at most the last batch is written again, which the idempotent writes make
harmless. Bad entries of the batch go into the report hash in the same transaction.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from ..core import codec, keys
from ..records.bad import BadEntry
from .report import COUNTERS


@dataclass
class Position:
    #: SCAN cursor that yields the page being processed (0: the first page).
    cursor: int = 0
    #: Source key in progress, and the index of its next member.
    key: bytes | None = None
    offset: int = 0
    #: The step finished this partition.
    done: bool = False
    #: On a cluster, the primaries and their slots the cursor is about (``scan.topology``).
    topology: str = ""


class Checkpoint:
    def __init__(self, client: redis.Redis[Any], migration_id: str, partition: str = "scan") -> None:
        self.client = client
        self.migration_id = migration_id
        self.partition = partition
        self.key = keys.migration_checkpoint(migration_id, partition)
        self.done_key = keys.migration_done_keys(migration_id, partition)
        self.report_key = keys.migration_report(migration_id)

    def load(self) -> tuple[Position, dict[str, int]]:
        raw = self.client.hgetall(self.key)
        data = {codec.text(k, "surrogateescape"): codec.text(v, "surrogateescape") for k, v in raw.items()}
        position = Position(
            cursor=int(data.get("cursor") or 0),
            key=raw.get(b"key") or None,
            offset=int(data.get("offset") or 0),
            done=data.get("done") == "1",
            topology=data.get("topology", ""),
        )
        counters = {name: int(data[name]) for name in COUNTERS if data.get(name)}
        return position, counters

    def done_among(self, source_keys: Sequence[bytes]) -> list[bool]:
        """Which of ``source_keys`` the run already finished on the current SCAN page."""
        if not source_keys:
            return []
        flags = self.client.execute_command("SMISMEMBER", self.done_key, *source_keys)
        return [bool(flag) for flag in flags]

    def commit(
        self,
        position: Position,
        counters: dict[str, int],
        finished: Iterable[bytes] = (),
        bad: Iterable[tuple[str, BadEntry]] = (),
        new_page: bool = False,
    ) -> None:
        """Record, atomically, that everything up to ``position`` is written."""
        pipe = self.client.pipeline(transaction=True)
        if new_page:
            pipe.delete(self.done_key)
        finished = list(finished)
        if finished:
            pipe.sadd(self.done_key, *finished)
        report: dict[str | bytes, str] = {eid: entry.to_json() for eid, entry in bad}
        if report:
            pipe.hset(self.report_key, mapping=report)
        pipe.hset(self.key, mapping=self._fields(position, counters))
        pipe.execute()

    def finish(self, counters: dict[str, int]) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(self.done_key)
        pipe.hset(self.key, mapping=self._fields(Position(done=True), counters))
        pipe.execute()

    def clear(self) -> None:
        """Forget where the run stood (the report stays): the next run starts over."""
        self.client.delete(self.key, self.done_key)

    @staticmethod
    def _fields(position: Position, counters: dict[str, int]) -> dict[str | bytes, bytes | str | int]:
        fields: dict[str | bytes, bytes | str | int] = {
            "cursor": position.cursor,
            "key": position.key or b"",
            "offset": position.offset,
            "done": "1" if position.done else "0",
            "topology": position.topology,
            "updated_at": f"{time.time():.3f}",
        }
        fields.update(counters)
        return fields
