"""The shared driver of the key migrations: streaming SCAN (or an explicit key partition),
checkpoints committed after each written batch, progress, and the step's counters.

A subclass says which keys it reads (``pattern``), how to process a page of them
(``process``, calling ``flush`` whenever a batch is ready) and how to write what it buffered
(``write_pending``). Memory stays flat: one SCAN page of key names and one batch of records.
"""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

import redis

from ..core.drivers import SyncDriver
from .checkpoint import Checkpoint, Position
from .options import SCAN_COUNT, ProgressFactory, log_progress
from .progress import Progress
from .report import BadEntry, StepStats, bad_item
from .writer import BatchWriter, Job, WriteOutcome

log = logging.getLogger("redis_client.migrate")


class KeyMigration(abc.ABC):
    #: What one item is ("posts", "accounts"), for counters and progress.
    unit: str = "items"
    #: SCAN pattern of the source keys.
    pattern: str = ""
    #: Write on a background thread, overlapping the reading and parsing of the next batch.
    threaded_writes: bool = False

    def __init__(
        self,
        client: redis.Redis,
        migration_id: str,
        *,
        batch_size: int,
        dry_run: bool = False,
        progress: ProgressFactory = log_progress,
        partition: str = "scan",
        driver: SyncDriver,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.client = client
        #: Runs the record operations (``redis_client.records``) on the same server as ``client``.
        self.driver = driver
        self.migration_id = migration_id
        self.batch_size = batch_size
        self.dry_run = dry_run
        self.stats = StepStats(migration_id, unit=self.unit, dry_run=dry_run)
        self.checkpoint = None if dry_run else Checkpoint(client, migration_id, partition)
        self._progress_factory = progress
        self._progress: Progress | None = None
        self._writer: BatchWriter | None = None
        self._shown = 0
        self.cursor = 0
        #: Source key -> offset to resume it at (from the checkpoint), consumed by ``process``.
        self.resume_at: dict[bytes, int] = {}
        self._finished: list[bytes] = []
        self._bad: list[tuple[str, BadEntry]] = []

    # --- what subclasses implement ---

    @abc.abstractmethod
    def process(self, source_keys: list[bytes]) -> None:
        """Migrate these keys (not yet done); call ``flush`` when a batch is buffered."""

    @abc.abstractmethod
    def take_batch(self) -> Any:
        """Hand over the buffered batch (None when empty) and start a new one."""

    @abc.abstractmethod
    def write_batch(self, batch: Any) -> WriteOutcome:
        """Write a batch (idempotent writes; may run on the writer thread: touch no engine
        state). Items that cannot be written go into ``failed``; raise on connection errors."""

    def count(self, source_keys: list[bytes]) -> int:
        """Items in these keys, for the progress total (the pre-count pass)."""
        return len(source_keys)

    # --- helpers for subclasses ---

    def report(self, key: bytes | str, reason: str, raw: bytes | None = None) -> None:
        """Skip one bad item (or key): counted, kept in the summary, stored with the checkpoint."""
        eid, entry = bad_item(key_name(key), reason, raw)
        self._bad.append((eid, entry))
        self.stats.add_bad(entry)
        log.debug("skipped %s: %s", entry.key, reason)

    def finish_key(self, key: bytes) -> None:
        self._finished.append(key)
        self.stats.keys += 1

    def flush(self, key: bytes | None = None, offset: int = 0, new_page: bool = False) -> None:
        """Write the buffered batch, then commit the checkpoint (``key`` in progress at ``offset``).

        With the writer thread both happen in the background, in order.
        """
        job = Job(
            batch=self.take_batch(),
            position=Position(cursor=self.cursor, key=key, offset=offset),
            counters=self.stats.counters(),
            finished=self._finished,
            bad=self._bad,
            new_page=new_page,
        )
        self._finished, self._bad = [], []
        assert self._writer is not None
        self._writer.submit(job)
        if self._progress is not None:
            shown = self.stats.processed
            self._progress.update(shown - self._shown)
            self._shown = shown

    # --- drivers ---

    def run_scan(self, count_first: bool = True) -> StepStats:
        """Migrate every key matching ``pattern``, resuming from the checkpoint."""
        position = self._start()
        if position is None:
            return self.stats
        total = self._count_all() if count_first else None
        cursor = position.cursor
        if position.key is not None:
            self.resume_at = {position.key: position.offset}
        self._open_progress(total)
        try:
            while True:
                next_cursor, page = self.client.scan(cursor, match=self.pattern, count=SCAN_COUNT)
                self.cursor = cursor
                self.process(self._not_done(list(dict.fromkeys(page))))
                self.resume_at.clear()
                self.cursor = int(next_cursor)
                self.flush(new_page=True)
                if self.cursor == 0:
                    break
                cursor = self.cursor
            self._finish()
        finally:
            self._close()
        return self.stats

    def run_keys(self, source_keys: Iterable[bytes | str], total: int | None = None) -> StepStats:
        """Migrate an explicit partition of source keys (e.g. one Ray task's share)."""
        position = self._start()
        if position is None:
            return self.stats
        if position.key is not None:
            self.resume_at = {position.key: position.offset}
        self._open_progress(total)
        try:
            for group in _chunks((_raw(k) for k in source_keys), SCAN_COUNT):
                self.process(self._not_done(list(dict.fromkeys(group))))
                self.flush()
            self._finish()
        finally:
            self._close()
        return self.stats

    # --- internals ---

    def _start(self) -> Position | None:
        self._t0 = time.monotonic()
        if self.checkpoint is None:
            return Position()
        position, counters = self.checkpoint.load()
        self.stats.load_counters(counters)
        self._shown = self.stats.processed
        if position.done:
            self.stats.already_done = True
            log.info("%s: already complete (checkpoint), nothing to do", self.migration_id)
            return None
        if counters:
            log.info(
                "%s: resuming from checkpoint (%d %s done)",
                self.migration_id, self.stats.items, self.unit,
            )
        return position

    def _count_all(self) -> int:
        total = 0
        for page in self._scan_all():
            total += self.count(page)
        return total

    def _scan_all(self) -> Iterator[list[bytes]]:
        cursor = 0
        while True:
            cursor, page = self.client.scan(cursor, match=self.pattern, count=SCAN_COUNT)
            yield list(dict.fromkeys(page))
            if int(cursor) == 0:
                return

    def _not_done(self, page: list[bytes]) -> list[bytes]:
        if self.checkpoint is None or not page:
            return page
        flags = self.checkpoint.done_among(page)
        return [k for k, done in zip(page, flags, strict=True) if not done]

    def _open_progress(self, total: int | None) -> None:
        threaded = self.threaded_writes and not self.dry_run
        self._writer = BatchWriter(self.write_batch, self.checkpoint, threaded)
        desc = f"{self.migration_id}{' (dry run)' if self.dry_run else ''}"
        self._progress = self._progress_factory(desc, total, self._shown, self.unit)

    def _finish(self) -> None:
        self._close_writer(raise_errors=True)
        if self.checkpoint is not None:
            self.checkpoint.finish(self.stats.counters())

    def _close_writer(self, raise_errors: bool) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        writer.close(raise_errors=raise_errors)
        totals = writer.totals
        self.stats.created += totals.created
        self.stats.updated += totals.updated
        for _, entry in totals.failed:
            self.stats.items -= 1
            self.stats.add_bad(entry)

    def _close(self) -> None:
        self._close_writer(raise_errors=False)  # after an error: keep what was written
        self.stats.seconds = time.monotonic() - self._t0
        if self._progress is not None:
            self._progress.close()
            self._progress = None


def key_name(key: bytes | str) -> str:
    """A key for messages and reports (bytes that are not UTF-8 shown escaped)."""
    return key.decode("utf-8", "backslashreplace") if isinstance(key, bytes) else key


def _raw(key: bytes | str) -> bytes:
    return key if isinstance(key, bytes) else key.encode("utf-8")


def _chunks(items: Iterable[bytes], size: int) -> Iterator[list[bytes]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
