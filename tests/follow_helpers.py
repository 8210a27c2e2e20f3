"""Helpers of the follower tests: legacy writes as other services make them, record reads,
a follower running in a thread, waiting for an eventual state, DUMPs of the legacy keys."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import redis

from redis_client.core import keys
from redis_client.core.codec import post_member
from redis_client.core.settings import RedisSettings
from redis_client.follow import Follower, FollowOptions

T0 = 1_700_000_000

#: Short intervals: a test waits seconds, not minutes.
FAST = FollowOptions(
    interval=1.0, fallback_interval=0.5, lease_timeout=2.0, probe_timeout=1.0, log_interval=5.0
)


def fields(pid: str, user: str = "alice", ts: int | None = None, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": pid,
        "text": f"text of {pid}",
        "sender_username": user,
        "timestamp": T0 if ts is None else ts,
        "quoted_tweet_id": None,
        "is_reply_to": None,
        "is_news_summary_tweet": False,
    }
    data.update(extra)
    return data


def member(pid: str, user: str = "alice", ts: int | None = None, **extra: Any) -> str:
    """The legacy member an older agent ZADDs (``json.dumps`` of the 7 fields)."""
    return post_member(fields(pid, user, ts, **extra))


def zadd(raw: redis.Redis, user: str, *pids: str, ts: int | None = None) -> None:
    """ZADD the members of ``pids`` (timestamps T0 + their index unless ``ts``), as raw redis-py."""
    mapping = {}
    for i, pid in enumerate(pids):
        stamp = ts if ts is not None else T0 + i
        mapping[member(pid, user, stamp)] = stamp
    raw.zadd(keys.posted_tweets(user), mapping)


def record(raw: redis.Redis, pid: str) -> dict[str, Any] | None:
    text = raw.execute_command("JSON.GET", keys.model_key(keys.POST_PREFIX, pid))
    return None if text is None else dict(json.loads(text))


def accounts_of(raw: redis.Redis, pid: str) -> list[str] | None:
    found = record(raw, pid)
    return None if found is None else list(found["accounts"])


def account(raw: redis.Redis, username: str) -> dict[str, Any] | None:
    text = raw.execute_command("JSON.GET", keys.model_key(keys.ACCOUNT_PREFIX, username))
    return None if text is None else dict(json.loads(text))


def wait_until(check: Callable[[], Any], timeout: float = 15.0, what: str = "the state") -> Any:
    """Poll ``check`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what} (last: {value!r})")
        time.sleep(0.02)


@contextmanager
def following(
    settings: RedisSettings, options: FollowOptions = FAST, ready: bool = True
) -> Iterator[Follower]:
    """A follower running in a thread of this process, stopped (and joined) afterwards."""
    follower = Follower(settings, options)
    thread = follower.start()
    try:
        if ready:
            assert follower.ready.wait(20), "the follower did not get in step"
        yield follower
    finally:
        follower.stop(20)
        assert not thread.is_alive(), "the follower did not stop"


def legacy_dump(raw: redis.Redis) -> dict[bytes, bytes]:
    """DUMP of every key outside the reserved namespace (what other services read)."""
    out = {}
    for key in raw.scan_iter(count=1000):
        if key.startswith(keys.MODEL_NAMESPACE.encode() + b":"):
            continue
        out[key] = raw.dump(key)
    return out


def post_ids_of(raw: redis.Redis, user: str) -> set[str]:
    """Ids of the records listing ``user`` (a SCAN of every record: exact, index-free)."""
    found = set()
    for key in raw.scan_iter(match=keys.model_pattern(keys.POST_PREFIX), count=1000):
        text = raw.execute_command("JSON.GET", key) if raw.type(key) == b"ReJSON-RL" else None
        if text is None:  # not a record, or deleted since SCAN listed it
            continue
        doc = json.loads(text)
        if user in doc.get("accounts", []):
            found.add(doc["id"])
    return found


def member_ids(raw: redis.Redis, user: str) -> set[str]:
    """Ids of the valid members of ``posted_tweets:{user}``."""
    out = set()
    for m in raw.zrange(keys.posted_tweets(user), 0, -1):
        with suppress(ValueError, KeyError, TypeError):
            out.add(str(json.loads(m)["id"]))
    return out
