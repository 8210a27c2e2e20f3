"""Shared helpers: a plain redis-py client (as another service would use) and keyspace snapshots."""

from __future__ import annotations

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
