"""Bad legacy data the follower skipped: stored once each, logged without any stored value.

An entry is the key, the reason and, for a post member, its first 80 characters (the
migration's report format). Entries are kept in the hash ``redis_client_om:follow:report``
under a stable id, so a malformed member met again on every pass is stored and logged once.
The log line names the key and the reason only: the preview is a stored value, and
``twitter_data`` values (tokens) are never read into an entry at all.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import redis

from ..core import keys
from ..records.bad import BadEntry, bad_item

log = logging.getLogger("redis_client.follow")

#: Entries a reporter keeps in memory (``recent``); all are stored in Redis.
RECENT = 50


class Reporter:
    """Collects a batch's bad entries; ``flush`` stores the new ones and logs them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # entries come from the reading and the writing thread
        self._batch: dict[str, BadEntry] = {}
        #: The first entries this reporter stored (for a summary).
        self.recent: list[BadEntry] = []

    def member(self, key: bytes | str, reason: str, raw: bytes) -> None:
        """A malformed post member (the report keeps its preview)."""
        eid, entry = bad_item(key, reason, raw)
        with self._lock:
            self._batch[eid] = entry

    def key(self, key: bytes | str, reason: str) -> None:
        """A key that cannot be read as legacy data (no value is kept)."""
        eid, entry = bad_item(key, reason)
        with self._lock:
            self._batch[eid] = entry

    def flush(self, client: redis.Redis[Any]) -> tuple[int, list[BadEntry]]:
        """Store the batch's entries not stored yet (one round trip); returns how many entries
        the batch met and the new ones."""
        with self._lock:
            batch, self._batch = self._batch, {}
        if not batch:
            return 0, []
        pipe = client.pipeline(transaction=False)
        for eid, entry in batch.items():
            pipe.hsetnx(keys.FOLLOW_REPORT, eid, entry.to_json())
        fresh = [entry for entry, added in zip(batch.values(), pipe.execute(), strict=True) if added]
        for entry in fresh:
            log.warning("skipped bad legacy data in %s: %s", entry.key, entry.reason)
        self.recent += fresh[: max(0, RECENT - len(self.recent))]
        return len(batch), fresh


def iter_report(client: redis.Redis[Any]) -> Iterator[BadEntry]:
    """Every entry the followers stored (streams with HSCAN)."""
    for _, value in client.hscan_iter(keys.FOLLOW_REPORT, count=500):
        yield BadEntry.from_json(value)
