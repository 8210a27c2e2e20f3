"""``Follower``: model records that follow every writer of the legacy keys, live.

One loop per process: take the lease (or stand by), subscribe to keyspace notifications (turning
them on where the server allows it), reconcile what changed while nobody followed (a pass), then
bring each batch of notified keys in step, with a pass every ``interval`` (``fallback_interval``
when notifications do not arrive) and a full pass every ``full_interval``. A lost connection or
a server restart is ridden out: wait for the server, subscribe again, pass again. On a Redis
Cluster it subscribes on every primary and follows failovers and slot moves (``nodes``), and
its passes scan every primary. It never
writes a legacy key: posts go through ``posts.PostSync``, accounts through
``accounts.AccountSync``, and the rest of what it writes is under ``redis_client_om:follow:``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import redis
from redis.exceptions import RedisClusterException

from redis_client import models  # noqa: F401 - registers the model indexes that the records need

from ..core import scripts
from ..core.connector import Connector
from ..core.drivers import SyncDriver
from ..core.errors import FollowerStoppedError, ServerUnavailableError, server_message
from ..core.settings import RedisSettings
from . import events, linked, nodes, passes
from .accounts import AccountSync
from .batches import BatchRunner
from .lease import Lease
from .options import FollowOptions
from .pending import Batch, Pending
from .posts import PostSync
from .report import Reporter
from .stats import Counts, FollowStats, log_line

log = logging.getLogger("redis_client.follow")

#: Errors after which the follower waits for the server and starts over (never fatal once running);
#: redis-py's cluster client raises ``RedisClusterException`` when no node of the cluster answers.
OUTAGE: tuple[type[Exception], ...] = (
    redis.ConnectionError, redis.TimeoutError, ServerUnavailableError, RedisClusterException
)
#: Times one ``reconcile()`` reads a key before calling it not in step (it keeps changing).
ONCE_RETRIES = 6
#: The scripts the batches run, loaded when the follower connects.
PRELOADED = (scripts.ADD_POSTS, scripts.UPSERT_ACCOUNT, scripts.FOLLOW_READ, scripts.FOLLOW_UNLINK_POSTS,
             scripts.FOLLOW_DROP_ACCOUNT, scripts.FOLLOW_SET_FINGERPRINT, scripts.FOLLOW_UNLINK_RECORDS,
             scripts.FOLLOW_DROP_RECORD)


class _Stopped(Exception):
    """``stop`` was set during a pass: leave it unfinished (the next start passes again)."""


_USED_AFTER_STOP = (
    "this Follower was stopped; create a new Follower(settings, options) to follow or reconcile again"
)


@dataclass(frozen=True)
class PassResult:
    """What ``Follower.reconcile`` did (``Counts`` of that pass and its batches)."""

    counts: Counts
    keys_seen: int
    keys_marked: int

    @property
    def in_step(self) -> bool:
        """Every record could be written (malformed members are skipped, not failures)."""
        return self.counts.failed == 0


class Follower:
    """Follows the legacy keys of one server, or of every primary of a cluster; ``run(stop)`` in a
    thread, a process or an actor.

    ``ready`` is set once the records are in step after the follower (re)started leading;
    ``leading`` while it holds the lease; ``stats`` has the counters, ``mode`` what it does.
    Once stopped (``stop()``, or the event given to ``run`` set), ``run``, ``start`` and
    ``reconcile`` raise :class:`FollowerStoppedError`.
    """

    def __init__(self, settings: RedisSettings | None = None, options: FollowOptions | None = None) -> None:
        self.options = options or FollowOptions()
        self.connector = Connector(settings)
        self.driver = SyncDriver(self.connector)
        self.stats = FollowStats()
        self.pending = Pending()
        self.reporter = Reporter()
        self.ready = threading.Event()
        self.leading = threading.Event()
        self.mode = "starting"
        self._resubscribed = threading.Event()
        self._notifications = False
        self._problem: str | None = None
        self._next_check = 0.0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._accounts: AccountSync | None = None
        self._runner: BatchRunner | None = None

    # --- entry points ---

    def run(self, stop: threading.Event) -> None:
        """Follow until ``stop`` is set, then finish the batch, release the lease and return.

        The first connection's problems are raised (unreachable server, no JSON/search modules,
        bad settings); later outages are waited out.
        """
        self._check_not_stopped()
        try:
            self._prepare()
            # One lease (one token) for the whole run: after an outage it is renewed, not waited for.
            lease = Lease(self.client, self.options.lease_timeout) if self.options.lease else None
            self._stopping = stop
            errors = 0
            while not stop.is_set():
                try:
                    self.mode = "standby"
                    if lease is not None and not lease.acquire(stop):
                        break
                    try:
                        self._lead(stop, lease)
                    except BaseException:
                        if lease is not None:
                            lease.pause()  # keeps its token: renewed, not waited for, once back
                        raise
                    if lease is not None:
                        lease.release()
                except OUTAGE as exc:
                    log.warning("follow: Redis unreachable (%s): waiting for it", type(exc).__name__)
                    self._recover(stop)
                except redis.RedisError as exc:  # e.g. OOM, a command the ACL refuses: never fatal
                    errors += 1
                    delay = min(30.0, 2.0 ** min(errors, 5))
                    log.error("follow: %s: %s; again in %.0fs", type(exc).__name__,
                              server_message(exc), delay)
                    stop.wait(delay)
                else:
                    errors = 0
            self.mode = "stopped"
        finally:
            self._close()
            if stop.is_set():
                self._stop.set()  # this Follower is done: using it again raises

    def start(self) -> threading.Thread:
        """Run in a daemon thread (``stop()`` ends it)."""
        self._check_not_stopped()
        self._thread = threading.Thread(
            target=self.run, args=(self._stop,), name="redis-client-follow", daemon=True
        )
        self._thread.start()
        return self._thread

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self.pending.wake()
        if self._thread is not None:
            self._thread.join(timeout)

    def reconcile(self, full: bool = False) -> PassResult:
        """One pass and its batches, without lease or notifications (``redis-client sync --once``):
        every changed key (every key with ``full``) and every account brought in step."""
        self._check_not_stopped()
        try:
            self._prepare()
            assert self._runner is not None
            before = self.stats.snapshot()
            seen, marked = self._pass(full)
            tries: dict[bytes, int] = {}
            failed = 0
            while True:
                batch = self.pending.take(self.options.batch_keys, self.options.deep_batch_keys)
                if not batch:
                    self._runner.finish()  # its keys to read again come back to pending
                    if not len(self.pending):
                        break
                    continue
                kept = []
                for entry in batch.posts:
                    tries[entry.zkey] = tries.get(entry.zkey, 0) + 1
                    if tries[entry.zkey] > ONCE_RETRIES:
                        failed += 1  # it keeps changing under us: not in step (the live follower goes on)
                    else:
                        kept.append(entry)
                self._runner.submit(Batch(kept, batch.accounts))
            after = self.stats.snapshot()
            counts = Counts(**{k: after[k] - before[k] for k in Counts().as_dict()})
            counts.failed += failed
            return PassResult(counts, seen, marked)
        except _Stopped:
            raise FollowerStoppedError("the Follower was stopped during reconcile()") from None
        finally:
            self._close()

    def _check_not_stopped(self) -> None:
        if self._stop.is_set() or self._stopping.is_set():
            raise FollowerStoppedError(_USED_AFTER_STOP)

    @property
    def client(self) -> redis.Redis[Any]:
        return self.connector.client()

    # --- leading ---

    def _prepare(self, after_outage: bool = False) -> None:
        """Connect, require the JSON and search modules, wait for the index to be complete."""
        linked.ensure_index(self.driver, forget=after_outage)  # the server may have restarted empty
        for script in PRELOADED:  # one SCRIPT LOAD each, not a NOSCRIPT per call of the first batch
            self.client.execute_command("SCRIPT", "LOAD", script.text)
        if self._runner is None:
            self._accounts = AccountSync(self.connector, self.reporter)
            self._runner = BatchRunner(
                PostSync(self.connector, self.options, self.reporter), self._accounts, self.reporter,
                self.stats, self.pending, self.client,
            )

    def _close(self) -> None:
        """End the batches' writer thread (the next ``run`` or ``reconcile`` starts another)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.close()

    def _lead(self, stop: threading.Event, lease: Lease | None) -> None:
        runner = self._runner
        assert runner is not None
        self.leading.set()
        self.ready.clear()
        listeners = nodes.Listeners(self.connector, self.pending, self.stats, self._resubscribed.set)
        try:
            listeners.start()
            listeners.wait_subscribed(self.options.probe_timeout)
            self._resubscribed.clear()
            self._check_notifications(listeners)
            self._pass()
            starting = True
            now = time.monotonic()
            next_pass, next_log = now + self._interval(), now + self.options.log_interval
            full_every = self.options.full_interval
            next_full = now + full_every if full_every is not None else None
            while not stop.is_set():
                if lease is not None and lease.lost.is_set():
                    return  # back to standby: ``run`` tries for the lease again
                now = time.monotonic()
                if listeners.watch():  # the cluster changed: as after a reconnection
                    listeners.wait_subscribed(self.options.probe_timeout)
                    self._resubscribed.set()
                if self._resubscribed.is_set():  # reconnected: what happened meanwhile is unknown
                    self._resubscribed.clear()
                    self._check_notifications(listeners)
                    self._pass()
                    next_pass = now + self._interval()
                elif next_full is not None and now >= next_full:
                    self._pass(full=True)
                    next_full, next_pass = now + (full_every or 0), now + self._interval()
                elif now >= next_pass:
                    if now >= self._next_check:  # also while polling: not at every pass
                        self._check_notifications(listeners)
                    self._pass(periodic=self._notifications)
                    next_pass = time.monotonic() + self._interval()
                if self.options.coalesce and 0 < len(self.pending) < self.options.batch_keys // 10:
                    stop.wait(self.options.coalesce)  # a few more keys per batch under a stream
                batch = self.pending.take(self.options.batch_keys, self.options.deep_batch_keys)
                if batch:
                    runner.submit(batch)
                else:
                    runner.finish()
                if starting and self.pending.settled() and runner.idle:
                    starting = False
                    self.ready.set()
                    log.info("follow (%s): records in step", self.mode)
                if not batch and runner.idle:
                    wait = min(next_pass, next_log, next_full or next_pass) - time.monotonic()
                    self.pending.wait(max(0.0, min(wait, 1.0)))
                if time.monotonic() >= next_log:
                    log_line(self.stats, self.mode, len(self.pending))
                    next_log = time.monotonic() + self.options.log_interval
        except _Stopped:
            return
        finally:
            with contextlib.suppress(*OUTAGE):  # finishes its batch (on an error: it went back)
                runner.finish()
            listeners.stop()
            self.leading.clear()

    def _interval(self) -> float:
        return self.options.interval if self._notifications else self.options.fallback_interval

    def _check_notifications(self, listeners: nodes.Listeners) -> None:
        """Turn notifications on where allowed; do they arrive (each probe's come back)? Else poll."""
        self._next_check = time.monotonic() + self.options.interval
        problem = listeners.check(self.options.configure_notifications, self.options.probe_timeout)
        if problem is None:
            if not self._notifications:
                log.info("follow: keyspace notifications arrive: following live")
            self._notifications, self._problem = True, None
            self.mode = "notifications"
            return
        if problem != self._problem:
            patterns = events.patterns(self.connector.database, self.connector.clustered)
            channels = " ".join("&" + p for p in patterns)
            log.warning(
                "follow: keyspace notifications cannot be used: %s. To follow live, %s; an ACL user "
                "also needs its PSUBSCRIBE patterns (allchannels, or exactly: %s). Until then "
                "changes are picked up by a pass every %gs.",
                problem, events.HOW_TO, channels, self.options.fallback_interval,
            )
        self._notifications, self._problem = False, problem
        self.mode = "polling"

    # --- passes and batches ---

    def _pass(self, full: bool = False, periodic: bool = False) -> tuple[int, int]:
        """Mark what changed; a ``periodic`` pass leaves the pending keys to their notifications
        (after a start or a reconnection, notifications may have been lost: nothing is left)."""
        assert self._accounts is not None
        t0 = time.monotonic()
        assert self._runner is not None
        seen, marked = passes.post_keys_pass(
            self.client, self.driver, self.pending, self.options.scan_count, full,
            between_pages=self._keep_up, busy=self._runner.busy, skip_pending=periodic,
        )
        for names in self._accounts.pass_pages(self.options.scan_count):
            self.pending.accounts(names)
        self.stats.add(Counts(passes=1, full_passes=int(full)))
        log.debug("follow: %s pass: %d post keys, %d to reconcile (%.2fs)",
                  "full" if full else "fingerprint", seen, marked, time.monotonic() - t0)
        return seen, marked

    def _keep_up(self) -> None:
        """Between two pages of a pass: the appends notified meanwhile (a long pass adds no lag)."""
        if self._stopping.is_set():
            raise _Stopped
        if self.leading.is_set() and self._runner is not None:
            batch = self.pending.take(self.options.batch_keys, 0)
            if batch.accounts:
                self.pending.put_back([], batch.accounts)
            if batch.posts:
                self._runner.submit(Batch(batch.posts, {}))

    def _recover(self, stop: threading.Event) -> None:
        """Wait until the server answers and the records can be used again (indexes ready)."""
        self.leading.clear()
        self.ready.clear()
        self.mode = "reconnecting"
        delay = 0.1
        while not stop.is_set():
            try:
                nodes.ping_primaries(self.connector)
                self._prepare(after_outage=True)
                log.info("follow: Redis reachable again")
                return
            except OUTAGE:
                pass
            stop.wait(delay)
            delay = min(delay * 2, 5.0)


def follow(
    settings: RedisSettings | None, stop: threading.Event, options: FollowOptions | None = None
) -> None:
    """Follow the legacy keys until ``stop`` is set (``Follower(settings, options).run(stop)``)."""
    Follower(settings, options).run(stop)
