"""The driver of a key migration: streaming SCAN (of this run's partition), checkpoints committed
after each written batch, progress, and the step's counters.

A subclass says which keys it reads (``pattern``), how to process a page of them (``process``,
which buffers items and calls ``flush`` whenever a batch is ready), how to hand over what it
buffered (``take_batch``) and how to write a batch (``write_batch``). Memory stays flat: one SCAN
page of key names and about three batches of records.
"""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import Iterator
from typing import Any

from ..core import scan
from ..records.bad import BadEntry, bad_item, key_name
from .checkpoint import Checkpoint, Position
from .context import Context
from .progress import Progress
from .report import StepStats
from .writer import BatchWriter, Job, WriteOutcome

log = logging.getLogger("redis_client.migrate")

#: Full scans at most in one run while the cluster keeps changing under it.
RESCANS = 5


class KeyMigration(abc.ABC):
    #: What one item is ("posts", "accounts"), for counters and progress.
    unit: str = "items"
    #: SCAN pattern of the source keys.
    pattern: str = ""
    #: Write on a background thread, overlapping the reading and parsing of the next batch.
    threaded_writes: bool = False

    def __init__(self, ctx: Context, *, dry_run: bool = False) -> None:
        self.ctx = ctx
        self.client = ctx.client()
        self.migration_id = ctx.migration_id
        self.batch_size = ctx.batch_size
        self.dry_run = dry_run
        self.stats = StepStats(ctx.migration_id, unit=self.unit, dry_run=dry_run)
        self.checkpoint = None if dry_run else Checkpoint(self.client, ctx.migration_id, ctx.checkpoint_name)
        self._progress: Progress | None = None
        self._writer: BatchWriter | None = None
        self._shown = 0
        self._t0 = time.monotonic()
        #: SCAN cursor of the page being processed (what a checkpoint records).
        self.cursor = 0
        #: Source key -> offset to resume it at (from the checkpoint), consumed by ``process``.
        self.resume_at: dict[bytes, int] = {}
        self._finished: list[bytes] = []
        self._bad: list[tuple[str, BadEntry]] = []
        #: On a cluster, the topology the scan's cursors are about (``scan.topology``).
        self.topology = ""

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
        """Write the buffered batch, then commit the checkpoint (``key`` in progress at ``offset``;
        ``new_page``: every key of the pages before ``self.cursor`` is done).

        With the writer thread both happen in the background, in order.
        """
        job = Job(
            batch=self.take_batch(),
            position=Position(cursor=self.cursor, key=key, offset=offset, topology=self.topology),
            counters=self.stats.counters(),
            finished=self._finished,
            bad=self._bad,
            new_page=new_page,
        )
        self._finished, self._bad = [], []
        assert self._writer is not None, "flush() is called from process() only"
        self._writer.submit(job)
        if self._progress is not None:
            shown = self.stats.processed
            self._progress.update(shown - self._shown)
            self._shown = shown

    # --- the driver ---

    def run(self) -> StepStats:
        """Migrate every key matching ``pattern`` (of the context's partition), resuming from
        the checkpoint; returns when every batch is written and the checkpoint marked done."""
        position = self._start()
        if position is None:
            return self.stats
        total = self._total()
        if position.key is not None:
            self.resume_at = {position.key: position.offset}
        threaded = self.threaded_writes and not self.dry_run
        self._writer = BatchWriter(self.write_batch, self.checkpoint, threaded)
        desc = f"{self.migration_id}{' (dry run)' if self.dry_run else ''}"
        self._progress = self.ctx.progress(desc, total, self._shown, self.unit)
        try:
            cursor = position.cursor
            for _ in range(RESCANS):
                self._scan(cursor)
                if self._topology_now() == self.topology:
                    break
                # Slots moved or a primary failed over while the primaries were scanned one
                # after the other: keys may have moved to one scanned already. Read it all again.
                log.info("%s: the cluster changed during the scan: scanning once more", self.migration_id)
                self.topology, self.cursor, cursor = self._topology_now(), 0, 0
                self.flush(new_page=True)  # a run cut from here starts the new scan over
            self._finish()
        finally:
            self._close()
        return self.stats

    def _scan(self, cursor: int) -> None:
        first = True
        for at, page in scan.pages(self.client, match=self.pattern, cursor=cursor):
            self.cursor = at
            if not first:
                self.flush(new_page=True)  # the previous page is complete
            first = False
            self.process(self._not_done([k for k in page if self.ctx.holds(k)]))
            self.resume_at.clear()

    def _topology_now(self) -> str:
        """The cluster's primaries and slots now (asked again: a failover or a slot move is seen
        by the client only when a command meets it); '' on one server."""
        manager = getattr(self.client, "nodes_manager", None)
        if manager is not None:
            manager.initialize()
        return scan.topology(self.client)

    # --- internals ---

    def _start(self) -> Position | None:
        self._t0 = time.monotonic()
        if self.checkpoint is None:
            self.topology = self._topology_now()
            return Position()
        position, counters = self.checkpoint.load()
        self.topology = self._topology_now()
        moved = position.topology != self.topology and bool(position.cursor or position.key)
        if moved and not position.done:
            log.info("%s: the cluster changed since the checkpoint: scanning it all", self.migration_id)
            self.checkpoint.clear()
            position, counters = Position(), {}
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

    def _total(self) -> int | None:
        """The progress total: a pre-count pass over the source keys. None for a partition (a
        Ray task's progress only reaches its worker's log, not worth a second SCAN)."""
        if self.ctx.partition is not None:
            return None
        return sum(self.count(page) for page in self._pages())

    def _pages(self) -> Iterator[list[bytes]]:
        """This run's source keys, page by page (the pre-count pass)."""
        for _, page in scan.pages(self.client, match=self.pattern):
            yield [k for k in page if self.ctx.holds(k)]

    def _not_done(self, page: list[bytes]) -> list[bytes]:
        if self.checkpoint is None or not page:
            return page
        flags = self.checkpoint.done_among(page)
        return [k for k, done in zip(page, flags, strict=True) if not done]

    def _finish(self) -> None:
        self.flush()  # what the last page left buffered
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
