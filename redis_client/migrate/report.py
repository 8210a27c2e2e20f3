"""What a step did: counters, and the bad data it skipped (key, reason, short preview; no secrets)."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import redis

from ..core import keys

#: Characters of a bad post member shown in reports. twitter_data values are never shown.
PREVIEW_CHARS = 80
#: Bad entries kept in memory for the run's summary (all of them are stored in Redis).
SAMPLE_SIZE = 50

_POSITION = re.compile(r" at line \d+ column \d+")


@dataclass(frozen=True)
class BadEntry:
    key: str
    reason: str
    #: The first ``PREVIEW_CHARS`` characters of a post member; None for account data.
    preview: str | None = None

    def to_json(self) -> str:
        return json.dumps({"key": self.key, "reason": self.reason, "preview": self.preview})

    @classmethod
    def from_json(cls, text: str | bytes) -> BadEntry:
        data = json.loads(text)
        return cls(str(data["key"]), str(data["reason"]), data.get("preview"))


def preview(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "..."


def entry_id(key: str, detail: bytes | str = b"") -> str:
    """Stable id of a bad entry: the same bad member met again (a resumed batch) is stored once."""
    raw = detail.encode("utf-8", "surrogateescape") if isinstance(detail, str) else detail
    return hashlib.blake2b(key.encode("utf-8", "surrogateescape") + b"\0" + raw, digest_size=8).hexdigest()


def bad_item(key: str, reason: str, raw: bytes | None = None) -> tuple[str, BadEntry]:
    """A report entry and its stable id; ``raw`` (a post member) gives the preview."""
    entry = BadEntry(key, reason, preview(raw) if raw is not None else None)
    return entry_id(key, raw if raw is not None else reason), entry


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
    #: Items already counted by an interrupted earlier run (from the checkpoint).
    resumed_items: int = 0
    dry_run: bool = False
    already_done: bool = False
    reasons: Counter[str] = field(default_factory=Counter)
    sample: list[BadEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def posts(self) -> int:
        return self.items

    @property
    def per_second(self) -> float:
        done = self.processed - self.resumed_items
        return done / self.seconds if self.seconds > 0 else 0.0

    @property
    def posts_per_second(self) -> float:
        return self.per_second

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
        return {"items": self.items, "created": self.created, "updated": self.updated,
                "skipped": self.skipped, "keys": self.keys, "processed": self.processed}

    def load_counters(self, stored: dict[str, int]) -> None:
        for name, value in stored.items():
            if name in self.counters():
                setattr(self, name, value)
        self.resumed_items = self.processed


def reason_kind(reason: str) -> str:
    """Group reasons for the summary (positions inside invalid JSON dropped)."""
    return _POSITION.sub("", reason)


def iter_report(client: redis.Redis, migration_id: str) -> Iterator[BadEntry]:
    """Every bad entry stored for a migration (streams with HSCAN)."""
    for _, value in client.hscan_iter(keys.migration_report(migration_id), count=500):
        yield BadEntry.from_json(value)


def report_size(client: redis.Redis, migration_id: str) -> int:
    return int(client.hlen(keys.migration_report(migration_id)))
