"""A write loop an agent would run (sync or asyncio), recording what was acknowledged and when."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import redis

from redis_client.aio import AsyncRedisDB
from redis_client.core.settings import RedisSettings
from redis_client.db import RedisDB
from redis_client.embedded import EmbeddedRedis

USER = "agent"


def post(i: int) -> dict[str, Any]:
    return {"id": f"w{i}", "text": f"post {i}", "sender_username": USER, "timestamp": 1_700_000_000 + i}


@dataclass
class Writes:
    """What a write loop saw: acknowledged ids with their times, and the errors by type."""

    acked: list[tuple[int, float]] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)

    def longest_gap(self) -> float:
        times = [t for _, t in self.acked]
        return max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)

    def acked_after(self, moment: float) -> int:
        return sum(1 for _, t in self.acked if t > moment)

    def ids(self) -> set[str]:
        return {f"w{i}" for i, _ in self.acked}


def write_loop_sync(settings: RedisSettings, writes: Writes, start: int = 0) -> threading.Thread:
    """A thread calling ``add_user_post`` until ``writes.stop`` is set."""

    def loop() -> None:
        db = RedisDB(settings)
        i = start
        while not writes.stop.is_set():
            try:
                db.add_user_post(USER, post(i))
                writes.acked.append((i, time.monotonic()))
            except Exception as exc:  # counted: the test asserts which ones reached the caller
                writes.errors[type(exc).__name__] += 1
                time.sleep(0.01)
            i += 1

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def write_loop_async(settings: RedisSettings, writes: Writes, start: int = 0) -> threading.Thread:
    """The same from asyncio code: 4 tasks on one event loop (in a thread), each awaiting its writes."""

    async def task(db: AsyncRedisDB, first: int) -> None:
        i = first
        while not writes.stop.is_set():
            try:
                await db.add_user_post(USER, post(i))
                writes.acked.append((i, time.monotonic()))
            except Exception as exc:
                writes.errors[type(exc).__name__] += 1
                await asyncio.sleep(0.01)
            i += 4

    async def main() -> None:
        async with AsyncRedisDB(settings) as db:
            await asyncio.gather(*(task(db, start + k) for k in range(4)))

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    return thread


def client_of(node: EmbeddedRedis) -> redis.Redis[bytes]:
    return redis.Redis(node.host, node.port, socket_timeout=5)


def member_ids(client: redis.Redis[bytes]) -> set[str]:
    return {json.loads(m)["id"] for m in client.zrange(f"posted_tweets:{USER}", 0, -1)}


def record_ids(client: redis.Redis[bytes]) -> set[str]:
    prefix = b"redis_client_om:post:"
    return {
        k[len(prefix) :].decode()
        for k in client.scan_iter(match=b"redis_client_om:post:w*", count=1000)
    }
