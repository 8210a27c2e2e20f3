"""The lease: one follower follows, the others stand by and take over when it dies.

A redis-py ``Lock`` (``redis_client_om:follow:lease``) with a timeout, renewed by a heartbeat
thread every third of it. A follower killed without releasing it is replaced once the timeout
passes (on a cluster, the lock is one key: its primary's failover may lose it, which is a lease
lost). A holder that cannot renew in time (a long pause, the server unreachable) or finds the
lock owned by another (it expired meanwhile) considers the lease lost and stops following; the
records' writes are idempotent, so a short overlap of two holders doubles nothing.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

import redis
from redis.exceptions import LockError, LockNotOwnedError, RedisClusterException

from ..core import keys

log = logging.getLogger("redis_client.follow")

#: Seconds between two attempts of a standing-by follower to take the lease.
POLL = 0.5


class Lease:
    def __init__(self, client: redis.Redis[Any], timeout: float, name: str = keys.FOLLOW_LEASE) -> None:
        self.timeout = timeout
        # thread_local=False: the heartbeat thread renews the token the main thread acquired.
        self.lock = client.lock(name, timeout=timeout, sleep=POLL, thread_local=False)
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def acquire(self, stop: threading.Event) -> bool:
        """Wait for the lease until ``stop`` is set; True once held (standby is logged once)."""
        announced = False
        while not stop.is_set():
            if self._still_ours() or self.lock.acquire(blocking=True, blocking_timeout=POLL * 2):
                self.lost.clear()
                self._stop.clear()
                self._heartbeat = threading.Thread(
                    target=self._renew, name="redis-client-follow-lease", daemon=True
                )
                self._heartbeat.start()
                if announced:
                    log.info("follow: lease taken over: this follower follows now")
                return True
            if not announced:
                log.info("follow: another follower holds the lease; standing by")
                announced = True
        return False

    def _still_ours(self) -> bool:
        """The lock still holds our token (an outage interrupted us, not another follower)."""
        if self.lock.local.token is None or not self.lock.owned():
            return False
        try:
            self.lock.reacquire()
        except LockError:
            return False
        return True

    def _renew(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self.timeout / 3):
            try:
                self.lock.reacquire()
                last = time.monotonic()
            except (LockNotOwnedError, LockError):
                log.warning("follow: lease lost (another follower holds it now)")
                self.lost.set()
                return
            except (redis.RedisError, RedisClusterException):  # unreachable, or a cluster in failover
                if time.monotonic() - last >= self.timeout:
                    log.warning("follow: lease not renewed within %.0fs: standing down", self.timeout)
                    self.lost.set()
                    return

    def pause(self) -> None:
        """Stop renewing, keep the token (an outage: ``acquire`` renews it if still ours)."""
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
            self._heartbeat = None

    def release(self) -> None:
        self.pause()
        # Expired or lost already, or the server is gone: then it expires by itself.
        with contextlib.suppress(LockError, redis.ConnectionError, redis.TimeoutError):
            self.lock.release()
