"""``Pending``: the keys that changed and wait to be reconciled, fed by the notification
listener and the passes, drained by the follower's batches (thread-safe).

A key is taken out *before* it is read: a notification arriving while it is being reconciled
puts it back, so the change is read by the next batch. Per ``posted_tweets`` key it keeps the
commands notified since it was last taken (an append window is enough only when every one was
a ``zadd``) and when the first of them arrived (the lag).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice

#: The only command after which an append window can be read instead of the whole set.
APPEND = "zadd"
#: Marks of the passes: the key must be compared member by member.
COMPARE = "compare"


@dataclass
class PostKey:
    zkey: bytes
    events: set[str] = field(default_factory=set)
    first_seen: float = field(default_factory=time.monotonic)

    @property
    def append_only(self) -> bool:
        return self.events == {APPEND}

    def merge(self, other: PostKey) -> None:
        self.events |= other.events
        self.first_seen = min(self.first_seen, other.first_seen)


@dataclass
class Batch:
    posts: list[PostKey]
    #: Usernames whose account (twitter_data and action times) changed, with first-seen times.
    accounts: dict[str, float]

    def __bool__(self) -> bool:
        return bool(self.posts or self.accounts)


class Pending:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        #: Keys notified with ``zadd`` only, and keys to compare member by member (in order).
        self._append: dict[bytes, PostKey] = {}
        self._compare: dict[bytes, PostKey] = {}
        self._accounts: dict[str, float] = {}
        self._woken = False

    def _add(self, entry: PostKey) -> None:
        """Merge ``entry`` in (the lock is held)."""
        zkey = entry.zkey
        found = self._compare.get(zkey)
        if found is not None:
            found.merge(entry)
            return
        found = self._append.get(zkey)
        if found is not None:
            found.merge(entry)
            if not found.append_only:
                self._compare[zkey] = self._append.pop(zkey)
            return
        (self._append if entry.append_only else self._compare)[zkey] = entry

    def post_key(self, zkey: bytes, event: str, now: float | None = None) -> None:
        entry = PostKey(zkey, {event}, now or time.monotonic())
        with self._cond:
            self._add(entry)
            self._cond.notify()

    def post_keys(self, zkeys: Iterable[bytes], event: str = COMPARE) -> int:
        now = time.monotonic()
        count = 0
        with self._cond:
            for zkey in zkeys:
                self._add(PostKey(zkey, {event}, now))
                count += 1
            if count:
                self._cond.notify()
        return count

    def account(self, username: str, now: float | None = None) -> None:
        with self._cond:
            self._accounts.setdefault(username, now or time.monotonic())
            self._cond.notify()

    def accounts(self, usernames: Iterable[str]) -> None:
        now = time.monotonic()
        with self._cond:
            for username in usernames:
                self._accounts.setdefault(username, now)
            self._cond.notify()

    def put_back(self, posts: Iterable[PostKey], accounts: dict[str, float] | None = None) -> None:
        """Keys of a batch that must be read again (merged with what arrived meanwhile)."""
        with self._cond:
            for entry in posts:
                self._add(entry)
            for username, seen in (accounts or {}).items():
                self._accounts[username] = min(seen, self._accounts.get(username, seen))
            self._cond.notify()

    def take(self, max_keys: int, max_compared: int) -> Batch:
        """Up to ``max_keys`` post keys, of which at most ``max_compared`` to compare member by
        member, and every pending account; the oldest first."""
        with self._cond:
            posts = [self._compare.pop(k) for k in list(islice(self._compare, max_compared))]
            room = max(0, max_keys - len(posts))
            posts += [self._append.pop(k) for k in list(islice(self._append, room))]
            accounts, self._accounts = self._accounts, {}
            return Batch(posts, accounts)

    def wait(self, timeout: float) -> bool:
        """Wait until something is pending (True) or ``timeout`` passed (False)."""
        with self._cond:
            self._cond.wait_for(lambda: self._woken or self._any(), timeout)
            self._woken = False
            return self._any()

    def _any(self) -> bool:
        return bool(self._append or self._compare or self._accounts)

    def has(self, zkey: bytes) -> bool:
        with self._cond:
            return zkey in self._append or zkey in self._compare

    def settled(self) -> bool:
        """Nothing left to compare member by member, no account pending (appends may be)."""
        with self._cond:
            return not (self._compare or self._accounts)

    def wake(self) -> None:
        """Wake a ``wait`` (stop, lease lost...)."""
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._append) + len(self._compare) + len(self._accounts)
