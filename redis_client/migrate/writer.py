"""Writes batches and commits their checkpoints, in order, optionally on a background thread.

With the thread, reading and parsing the next batch overlaps the server's work on the current
one. Order is what keeps the checkpoint honest: a batch's checkpoint is committed only after
that batch (and every earlier one) was written. At most one batch waits in the queue, so memory
stays bounded by about three batches.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..records.bad import BadEntry
from .checkpoint import Checkpoint, Position

log = logging.getLogger("redis_client.migrate")


@dataclass
class WriteOutcome:
    created: int = 0
    updated: int = 0
    #: Items that could not be written (reported, skipped).
    failed: list[tuple[str, BadEntry]] = field(default_factory=list)

    def add(self, other: WriteOutcome) -> None:
        self.created += other.created
        self.updated += other.updated
        self.failed += other.failed


@dataclass
class Job:
    batch: Any
    position: Position
    #: The reader's counters (items, skipped, keys, processed) as of this batch.
    counters: dict[str, int]
    finished: list[bytes]
    bad: list[tuple[str, BadEntry]]
    new_page: bool


_STOP = object()


class BatchWriter:
    def __init__(
        self,
        write: Callable[[Any], WriteOutcome],
        checkpoint: Checkpoint | None,
        threaded: bool,
        name: str = "migrate-writer",
    ) -> None:
        self._write = write
        self._checkpoint = checkpoint
        #: What the writes did so far (read by the reader only after ``close``).
        self.totals = WriteOutcome()
        self._error: BaseException | None = None
        self._queue: queue.Queue[Any] | None = None
        self._thread: threading.Thread | None = None
        if threaded:
            self._queue = queue.Queue(maxsize=1)
            self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
            self._thread.start()

    def submit(self, job: Job) -> None:
        if self._queue is None:
            self._run(job)
            return
        while True:
            self._raise_error()
            try:
                self._queue.put(job, timeout=0.2)
                return
            except queue.Full:
                continue

    def close(self, raise_errors: bool = True) -> None:
        """Wait until every submitted batch is written and committed."""
        if self._thread is not None and self._queue is not None:
            while self._thread.is_alive():
                try:
                    self._queue.put(_STOP, timeout=0.2)
                    break
                except queue.Full:
                    continue
            self._thread.join()
            self._thread = None
        if raise_errors:
            self._raise_error()
        elif self._error is not None:
            log.warning("writer stopped on %s", type(self._error).__name__)

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _loop(self) -> None:
        assert self._queue is not None
        while True:
            job = self._queue.get()
            if job is _STOP:
                return
            try:
                self._run(job)
            except BaseException as exc:  # handed to the reader thread, which raises it
                self._error = exc
                return

    def _run(self, job: Job) -> None:
        outcome = self._write(job.batch) if job.batch is not None else WriteOutcome()
        self.totals.add(outcome)
        if self._checkpoint is None:
            return
        counters = dict(job.counters)
        counters["created"] = counters.get("created", 0) + self.totals.created
        counters["updated"] = counters.get("updated", 0) + self.totals.updated
        counters["items"] = counters.get("items", 0) - len(self.totals.failed)
        counters["skipped"] = counters.get("skipped", 0) + len(self.totals.failed)
        self._checkpoint.commit(
            job.position, counters, job.finished, job.bad + outcome.failed, new_page=job.new_page
        )
