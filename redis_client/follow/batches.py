"""``BatchRunner``: batches of changed keys, read while the previous batch is written.

A batch is prepared (read, parsed, compared with the records: ``PostSync.prepare``) on the
calling thread and committed (records written, accounts upserted, fingerprints stored) on one
writer thread, so the reading and parsing of batch N+1 overlap the server's indexing of batch N,
as the migration's writer thread does. Batches are committed one at a time, in order, and a key
is never in two batches at once: a key still being committed is held back for the next batch.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import redis

from .accounts import AccountSync
from .pending import Batch, Pending, PostKey
from .posts import PostSync, Prepared
from .report import Reporter
from .stats import Counts, FollowStats


@dataclass
class _Running:
    batch: Batch
    future: Future[list[PostKey]]


class BatchRunner:
    def __init__(
        self,
        posts: PostSync,
        accounts: AccountSync,
        reporter: Reporter,
        stats: FollowStats,
        pending: Pending,
        client: redis.Redis,  # type: ignore[type-arg]
    ) -> None:
        self.posts = posts
        self.accounts = accounts
        self.reporter = reporter
        self.stats = stats
        self.pending = pending
        self.client = client
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="redis-client-follow-writer")
        self._running: _Running | None = None

    def busy(self) -> set[bytes]:
        """The post keys of the batch being committed."""
        running = self._running
        return {e.zkey for e in running.batch.posts} if running is not None else set()

    @property
    def idle(self) -> bool:
        """No batch being committed."""
        return self._running is None

    def submit(self, batch: Batch) -> None:
        """Prepare ``batch``, wait for the previous commit, start this one's. Keys to read again
        go back to ``pending``. On an error, every key of both batches goes back, and it is raised."""
        busy = self.busy()
        held = [e for e in batch.posts if e.zkey in busy]
        batch = Batch([e for e in batch.posts if e.zkey not in busy], batch.accounts)
        try:
            prepared = self.posts.prepare(batch.posts)
        except BaseException:
            self.pending.put_back(batch.posts + held, batch.accounts)
            raise
        try:
            self.finish()  # the previous commit's error: its keys went back, and this batch's too
        except BaseException:
            self.pending.put_back(batch.posts + held, batch.accounts)
            raise
        self.pending.put_back(held)
        self._running = _Running(batch, self._writer.submit(self._commit, batch, prepared))

    def finish(self) -> None:
        """Wait for the batch being committed; its keys to read again go back to ``pending``."""
        running, self._running = self._running, None
        if running is None:
            return
        try:
            retry = running.future.result()
        except BaseException:
            self.pending.put_back(running.batch.posts, running.batch.accounts)
            raise
        self.pending.put_back(retry)

    def _commit(self, batch: Batch, prepared: Prepared) -> list[PostKey]:
        counts = Counts()
        outcome = self.posts.commit(prepared)
        counts.add(outcome.counts)
        for lag in outcome.lags:
            self.stats.lag(lag)
        if outcome.retry and len(outcome.retry) == len(prepared.plans) and not batch.accounts:
            time.sleep(0.05)  # only keys that changed under us: let their writers finish
        if batch.accounts:
            counts.add(self.accounts.reconcile(batch.accounts))
            now = time.monotonic()
            for seen in batch.accounts.values():
                self.stats.lag(now - seen)
        met, fresh = self.reporter.flush(self.client)
        counts.bad += met
        counts.new_bad += len(fresh)
        self.stats.add(counts)
        return outcome.retry

    def close(self) -> None:
        self._writer.shutdown(wait=True)
