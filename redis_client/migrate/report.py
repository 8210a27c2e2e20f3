"""What a step did: counters, and the bad data it skipped (key, reason, short preview; no secrets)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import redis

from ..core import keys
from ..records.bad import BadEntry

#: Bad entries kept in memory for the run's summary (all of them are stored in Redis).
SAMPLE_SIZE = 50

_POSITION = re.compile(r" at line \d+ column \d+")

#: The counters a checkpoint stores, in this order.
COUNTERS = ("items", "created", "updated", "skipped", "keys", "processed")


@dataclass
class StepStats:
    """Counters of one migration step. ``items`` are posts (or accounts) read and valid."""

    migration_id: str
    unit: str = "posts"
    items: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    keys: int = 0
    #: Members (or source keys) read, valid or not: what the progress display counts.
    processed: int = 0
    seconds: float = 0.0
    #: Members already processed by an interrupted earlier run (from the checkpoint).
    resumed_items: int = 0
    dry_run: bool = False
    already_done: bool = False
    reasons: Counter[str] = field(default_factory=Counter)
    sample: list[BadEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        """Members (or keys) processed per second by this run (a resumed share not counted)."""
        done = self.processed - self.resumed_items
        return done / self.seconds if self.seconds > 0 else 0.0

    @property
    def unchanged(self) -> int:
        return max(self.items - self.created - self.updated, 0)

    def add_bad(self, entry: BadEntry) -> None:
        self.skipped += 1
        self.reasons[reason_kind(entry.reason)] += 1
        if len(self.sample) < SAMPLE_SIZE:
            self.sample.append(entry)

    def counters(self) -> dict[str, int]:
        """What the checkpoint stores (consistent with its position)."""
        return {name: int(getattr(self, name)) for name in COUNTERS}

    def load_counters(self, stored: dict[str, int]) -> None:
        for name in COUNTERS:
            if name in stored:
                setattr(self, name, stored[name])
        self.resumed_items = self.processed


def combined(migration_id: str, parts: Iterable[StepStats]) -> StepStats:
    """The stats of several partitions of one step as one step's (seconds: the longest)."""
    parts = list(parts)
    total = StepStats(migration_id, unit=parts[0].unit if parts else "posts")
    for part in parts:
        for name in (*COUNTERS, "resumed_items"):
            setattr(total, name, getattr(total, name) + getattr(part, name))
        total.reasons.update(part.reasons)
        total.sample.extend(part.sample[: SAMPLE_SIZE - len(total.sample)])
        total.notes.extend(part.notes)
        total.dry_run = total.dry_run or part.dry_run
        total.seconds = max(total.seconds, part.seconds)
    total.already_done = bool(parts) and all(p.already_done for p in parts)
    return total


def reason_kind(reason: str) -> str:
    """Group reasons for the summary (positions inside invalid JSON dropped)."""
    return _POSITION.sub("", reason)


def iter_report(client: redis.Redis[Any], migration_id: str) -> Iterator[BadEntry]:
    """Every bad entry stored for a migration (streams with HSCAN)."""
    for _, value in client.hscan_iter(keys.migration_report(migration_id), count=500):
        yield BadEntry.from_json(value)


def report_size(client: redis.Redis[Any], migration_id: str) -> int:
    return int(client.hlen(keys.migration_report(migration_id)))
