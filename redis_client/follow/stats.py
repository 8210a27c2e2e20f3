"""What the follower did: counters, lag (first notification of a change -> its records written),
and the periodic log line."""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field, fields
from typing import Any

log = logging.getLogger("redis_client.follow")

#: Lags kept per log interval for its percentiles (a uniform sample beyond that).
LAG_SAMPLE = 10_000


@dataclass
class Counts:
    """Counters of what the follower did: a batch's or a pass's, or summed (``FollowStats.totals``
    since the follower started; :meth:`FollowStats.snapshot` gives them as a dict)."""

    #: Keyspace notifications received on followed keys.
    events: int = 0
    #: ``posted_tweets`` keys brought in step: from an append window, or member by member.
    keys_appended: int = 0
    keys_compared: int = 0
    #: Posts whose records were written (created, or the account added), and records created.
    posts_written: int = 0
    records_created: int = 0
    #: Records that lost an account, and records deleted (no account left).
    records_unlinked: int = 0
    records_deleted: int = 0
    accounts_created: int = 0
    accounts_updated: int = 0
    accounts_removed: int = 0
    #: Malformed members and keys met (each stored and logged once: ``new_bad``).
    bad: int = 0
    new_bad: int = 0
    #: Posts or accounts that could not be written (a record key of another type...).
    failed: int = 0
    #: Keys read again because they changed while being reconciled (or another follower won).
    retried: int = 0
    #: Fingerprint passes and full passes done.
    passes: int = 0
    full_passes: int = 0

    def add(self, other: Counts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class FollowStats:
    """Counters and lag, thread-safe; ``snapshot()`` for a service's metrics."""

    totals: Counts = field(default_factory=Counts)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _window: Counts = field(default_factory=Counts, repr=False)
    _lags: list[float] = field(default_factory=list, repr=False)
    _lags_seen: int = 0
    _window_start: float = field(default_factory=time.monotonic, repr=False)
    #: Largest lag seen since start (seconds).
    max_lag: float = 0.0

    def add(self, counts: Counts) -> None:
        with self._lock:
            self.totals.add(counts)
            self._window.add(counts)

    def event(self) -> None:
        with self._lock:  # one per notification: cheap enough at tens of thousands per second
            self.totals.events += 1
            self._window.events += 1

    def lag(self, seconds: float) -> None:
        with self._lock:
            self.max_lag = max(self.max_lag, seconds)
            self._lags_seen += 1
            if len(self._lags) < LAG_SAMPLE:
                self._lags.append(seconds)
            else:  # reservoir sampling keeps the percentiles unbiased
                slot = random.randrange(self._lags_seen)
                if slot < LAG_SAMPLE:
                    self._lags[slot] = seconds

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = self.totals.as_dict()
            out["max_lag"] = self.max_lag
            return out

    def roll(self) -> tuple[Counts, list[float], float]:
        """The counts and lags since the last roll, and the seconds they cover; starts anew."""
        with self._lock:
            window, lags = self._window, sorted(self._lags)
            seconds = time.monotonic() - self._window_start
            self._window, self._lags, self._lags_seen = Counts(), [], 0
            self._window_start = time.monotonic()
            return window, lags, seconds


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def log_line(stats: FollowStats, mode: str, pending: int) -> str:
    """One line: mode, counts and lag since the previous line (no key, no value)."""
    c, lags, seconds = stats.roll()
    lag = (
        f"lag p50 {percentile(lags, 0.5) * 1000:.0f} ms, p99 {percentile(lags, 0.99) * 1000:.0f} ms, "
        f"max {lags[-1] * 1000:.0f} ms" if lags else "lag -"
    )
    line = (
        f"follow ({mode}), last {seconds:.0f}s: {c.events} notifications; "
        f"{c.keys_appended + c.keys_compared} post keys ({c.keys_compared} compared); "
        f"posts {c.posts_written} written, {c.records_created} records created, "
        f"{c.records_unlinked} unlinked, {c.records_deleted} deleted; accounts "
        f"{c.accounts_created} created, {c.accounts_updated} updated, {c.accounts_removed} removed; "
        f"{c.bad} bad ({c.new_bad} new), {c.failed} failed; {lag}; {pending} keys pending"
    )
    log.info("%s", line)
    return line
