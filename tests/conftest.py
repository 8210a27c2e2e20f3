"""Shared helpers: a plain redis-py client (as another service would use) and keyspace snapshots."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

#: Usernames other services may use: every glob/tag/query special character, blanks, unicode.
HOSTILE_USERNAMES = [
    "a:b",
    "*",
    "a*",
    "?",
    "gi?a",
    "[g]ina",
    "]",
    "{x}",
    "}{",
    "with space",
    "tab\there",
    "é漢字🙂",
    "a* | @text:x",
    "@sender_username:{alice}",
    "\\",
    "-neg",
    "(a|b)",
    '"quoted"',
    "x'y",
    "~tilde",
    "$%^&",
]


@pytest.fixture
def raw(redis_db: Any, redis_settings: Any) -> Iterator[redis.Redis]:
    """A plain bytes client on the test server, independent of the package's pools."""
    client = redis.Redis.from_url(redis_settings.url)
    yield client
    client.close()


def snapshot(client: redis.Redis, include_schema: bool = False) -> dict[bytes, tuple[str, Any]]:
    """Every key with its type and full content (JSON documents as their JSON text)."""
    out: dict[bytes, tuple[str, Any]] = {}
    for key in client.scan_iter(count=1000):
        if not include_schema and key.startswith(b"redis_client_om:schema:"):
            continue
        kind = client.type(key).decode()
        value: Any
        if kind == "string":
            value = client.get(key)
        elif kind == "hash":
            value = client.hgetall(key)
        elif kind == "list":
            value = client.lrange(key, 0, -1)
        elif kind == "set":
            value = client.smembers(key)
        elif kind == "zset":
            value = client.zrange(key, 0, -1, withscores=True)
        elif kind == "ReJSON-RL":
            value = client.execute_command("JSON.GET", key)
        else:
            value = None
        out[key] = (kind, value)
    return out


def stored(client: redis.Redis, key: str) -> bytes:
    """The raw string at ``key``; fails the test when the key is missing."""
    value = client.get(key)
    assert value is not None, f"{key!r} is missing"
    return bytes(value)


def stored_json(client: redis.Redis, key: str) -> Any:
    """The JSON value another service would read at ``key``."""
    import json

    return json.loads(stored(client, key))


def post_fields(i: int, user: str = "alice", **extra: Any) -> dict[str, Any]:
    """A valid post as a dict: id ``tw{i}``, text ``text {i}``, timestamp 1700000000 + i."""
    data: dict[str, Any] = {
        "id": f"tw{i}",
        "text": f"text {i}",
        "sender_username": user,
        "timestamp": 1700000000 + i,
    }
    data.update(extra)
    return data


def run_in_threads(n: int, worker: Callable[[int], None]) -> list[BaseException]:
    """Run ``worker(0..n-1)`` on ``n`` threads at once; the exceptions they raised."""
    errors: list[BaseException] = []

    def guarded(t: int) -> None:
        try:
            worker(t)
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return errors


class AsyncBridge:
    """``AsyncRedisDB`` driven from synchronous test code: each coroutine method runs to completion
    on the calling thread's own event loop, so one test body checks both facades.

    ``bridge[key] = value`` and ``del bridge[key]`` stand for ``await db.set(...)`` and
    ``await db.delete(...)`` (an ``AsyncRedisDB`` cannot assign by item); ``r`` is the sync
    client of the same server, for the few tests that read raw data through the db.
    """

    def __init__(self, adb: Any, sync_db: Any) -> None:
        self._adb = adb
        self._sync = sync_db
        self._local = threading.local()
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._lock = threading.Lock()

    def run(self, awaitable: Any) -> Any:
        loop = getattr(self._local, "loop", None)
        if loop is None:
            loop = self._local.loop = asyncio.new_event_loop()
            with self._lock:
                self._loops.append(loop)
        return loop.run_until_complete(awaitable)

    def close(self) -> None:
        for loop in self._loops:
            loop.run_until_complete(self._adb.aclose())
            loop.close()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._adb, name)
        if not inspect.iscoroutinefunction(attr):
            return attr
        return lambda *args, **kwargs: self.run(attr(*args, **kwargs))

    def __getitem__(self, key: str) -> Any:
        return self.run(self._adb[key])

    def __setitem__(self, key: str, value: Any) -> None:
        self.run(self._adb.set(key, value))

    def __delitem__(self, key: str) -> None:
        self.run(self._adb.delete(key))

    @property
    def r(self) -> Any:
        return self._sync.r

    def __repr__(self) -> str:
        return f"<AsyncBridge {self._adb!r}>"


@pytest.fixture(params=["sync", "async"])
def db(request: pytest.FixtureRequest, redis_db: Any, async_redis_db: Any) -> Iterator[Any]:
    """The shared db of either facade (``RedisDB``, or ``AsyncRedisDB`` through :class:`AsyncBridge`)
    on the flushed test server: a test written once checks that both behave the same."""
    if request.param == "sync":
        yield redis_db
        return
    bridge = AsyncBridge(async_redis_db, redis_db)
    try:
        yield bridge
    finally:
        bridge.close()


@pytest.fixture(params=["sync", "async"])
def new_db(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """``new_db(settings, **kwargs)``: a ``RedisDB``, or an ``AsyncRedisDB`` behind an
    :class:`AsyncBridge`, with those settings (each test runs once per facade)."""
    from redis_client.aio import AsyncRedisDB
    from redis_client.db import RedisDB

    bridges: list[AsyncBridge] = []

    def make(settings: Any = None, **kwargs: Any) -> Any:
        if request.param == "sync":
            return RedisDB(settings, **kwargs)
        bridge = AsyncBridge(AsyncRedisDB(settings, **kwargs), RedisDB(settings, **kwargs))
        bridges.append(bridge)
        return bridge

    yield make
    for bridge in bridges:
        bridge.close()
