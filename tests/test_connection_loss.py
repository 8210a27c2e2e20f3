"""Connections cut at random points during dual writes leave both layouts consistent.

``db.add_user_post`` writes the sorted-set member and the ``Post`` record in one Lua script call
(``add_user_posts``: one script call per batch of 500, pipelined). Writers run while either
another client kills every connection in a loop (CLIENT KILL) or a proxy cuts each connection
after a random number of bytes, in the middle of a command or of its reply. Afterwards every
post id must be in both layouts or in neither, with the same content, and every acknowledged
write must be there.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from conftest import AsyncBridge
from tls_proxy import Proxy

from redis_client.aio import AsyncRedisDB
from redis_client.core import keys
from redis_client.core.settings import RedisSettings
from redis_client.db import RedisDB
from redis_client.embedded import EmbeddedRedis

DURATION = 1.5
WRITERS = 3
ACCOUNTS = ("alice", "b:o*b [x]")
T0 = 1_700_000_000


@pytest.fixture
def direct(redis_db: RedisDB, redis_settings: RedisSettings) -> Iterator[redis.Redis]:
    """A client of the test server that no fault touches (CLIENT KILL spares it: SKIPME)."""
    client = redis.Redis.from_url(redis_settings.url or "", socket_timeout=10)
    warmup = {"id": "w", "text": "t", "sender_username": "w", "timestamp": T0}
    redis_db.add_user_post("warmup", warmup)  # the indexes exist before the faults start
    yield client
    client.close()


class Writers:
    """Threads adding posts (single posts, small batches, multi-batch pipelines) until stopped."""

    def __init__(self, db: RedisDB) -> None:
        self.db = db
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked: dict[str, set[str]] = {a: set() for a in ACCOUNTS}
        self.attempted: dict[str, set[str]] = {a: set() for a in ACCOUNTS}
        self.connection_errors = 0
        self.calls = 0
        self.unexpected: list[str] = []
        self.threads = [threading.Thread(target=self.run, args=(w,)) for w in range(WRITERS)]

    def run(self, writer: int) -> None:
        rng = random.Random(writer)
        n = 0
        while not self.stop.is_set():
            n += 1
            account = ACCOUNTS[n % len(ACCOUNTS)]
            size = rng.choice([1, 1, 1, 3, 20, 700])  # 700: two script calls in one pipeline
            ids = [f"w{writer}-{n}-{k}" for k in range(size)]
            if n > 2 and rng.random() < 0.3:  # the same post under the other account too
                ids.append(f"w{writer}-{n - 1}-0")
            posts = [
                {"id": i, "text": f"post {i} ✓", "sender_username": account, "timestamp": T0 + n}
                for i in ids
            ]
            with self.lock:
                self.attempted[account].update(ids)
            try:
                if len(posts) == 1:
                    self.db.add_user_post(account, posts[0])
                else:
                    self.db.add_user_posts(account, posts)
            except (redis.ConnectionError, redis.TimeoutError):
                with self.lock:
                    self.connection_errors += 1
                continue
            except Exception:
                self.unexpected.append(traceback.format_exc())
                continue
            finally:
                self.calls += 1
            with self.lock:
                self.acked[account].update(ids)

    def __enter__(self) -> Writers:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)


def check_consistency(client: redis.Redis, writers: Writers) -> dict[str, set[str]]:
    """Both layouts hold the same posts with the same content; acknowledged ones are all there."""
    present: dict[str, set[str]] = {}
    for account in ACCOUNTS:
        members = {}
        for raw in client.zrange(keys.posted_tweets(account), 0, -1):
            fields = json.loads(raw)
            members[fields["id"]] = fields
        records = {}
        ids = sorted(writers.attempted[account])
        pipe = client.pipeline(transaction=False)
        for pid in ids:
            pipe.execute_command("JSON.GET", keys.model_key(keys.POST_PREFIX, pid))
        for pid, doc in zip(ids, pipe.execute(), strict=True):
            if doc is not None and account in json.loads(doc)["accounts"]:
                records[pid] = json.loads(doc)
        members = {k: v for k, v in members.items() if k in writers.attempted[account]}
        only_members = sorted(set(members) - set(records))
        only_records = sorted(set(records) - set(members))
        assert not only_members and not only_records, (
            f"{account}: only in the sorted set {only_members[:5]}, "
            f"only as records {only_records[:5]}"
        )
        for pid, fields in members.items():
            record = {k: v for k, v in records[pid].items() if k != "accounts"}
            if records[pid]["sender_username"] == account:  # first writer's content is kept
                assert record == fields, pid
        missing = writers.acked[account] - set(members)
        assert not missing, f"{account}: acknowledged but lost: {sorted(missing)[:5]}"
        present[account] = set(members)
    return present


def cut_every_connection(rng: random.Random) -> Callable[[], tuple[str, int] | None]:
    """Each connection dies within its first commands (1-20000 bytes) or replies (1-64 bytes)."""

    def plan() -> tuple[str, int] | None:
        if rng.random() < 0.5:
            return "up", rng.randint(1, 20000)
        return "down", rng.randint(1, 64)

    return plan


@pytest.mark.parametrize("retries", [0, 3])
def test_client_kill_loop_during_dual_writes(
    redis_settings: RedisSettings, direct: redis.Redis, retries: int
) -> None:
    client_kill_loop(redis_settings, direct, retries, DURATION)


@pytest.mark.soak
def test_client_kill_loop_during_dual_writes_soak(
    redis_settings: RedisSettings, direct: redis.Redis
) -> None:
    client_kill_loop(redis_settings, direct, 3, float(os.environ.get("SOAK_SECONDS", "60")))


def client_kill_loop(
    redis_settings: RedisSettings, direct: redis.Redis, retries: int, duration: float
) -> None:
    db = RedisDB(redis_settings.model_copy(update={"retries": retries}))
    kills = 0
    stop = threading.Event()

    def killer() -> None:
        nonlocal kills
        rng = random.Random(42)
        admin = redis.Redis.from_url(redis_settings.url or "")
        while not stop.is_set():
            time.sleep(rng.uniform(0.001, 0.02))
            kills += admin.client_kill_filter(_type="normal", skipme=True)
        admin.close()

    with Writers(db) as writers:
        thread = threading.Thread(target=killer)
        thread.start()
        time.sleep(duration)
        stop.set()
        thread.join()
    assert not writers.unexpected, writers.unexpected[0]
    assert kills > 10 and writers.calls > 20
    if retries == 0:
        assert writers.connection_errors > 0, "the kills did interrupt writes"
    present = check_consistency(direct, writers)
    assert all(present.values())


@pytest.mark.parametrize("retries", [0, 3])
def test_proxy_cutting_commands_and_replies_during_dual_writes(
    redis_server: EmbeddedRedis, direct: redis.Redis, retries: int
) -> None:
    with Proxy(redis_server.port, cut=cut_every_connection(random.Random(7))) as proxy:
        db = RedisDB(
            RedisSettings(url=proxy.url(), retries=retries, startup_wait=5)  # type: ignore[call-arg]
        )
        with Writers(db) as writers:
            time.sleep(DURATION)
        cuts = proxy.cuts
    assert not writers.unexpected, writers.unexpected[0]
    assert cuts > 20 and writers.calls > 20
    if retries == 0:
        assert writers.connection_errors > 0
    check_consistency(direct, writers)


def script_reply_cutter() -> tuple[dict[str, bool], Callable[[str, bytes], bool]]:
    """A proxy tap that, once ``state["armed"]``, cuts the reply of the next EVALSHA (after the
    server ran it); ``state["cut"]`` tells it happened."""
    state = {"armed": False, "sent": False, "cut": False}

    def tap(direction: str, data: bytes) -> bool:
        if direction == "up" and state["armed"] and b"EVALSHA" in data.upper():
            state["sent"] = True
        elif direction == "down" and state["sent"] and not state["cut"]:
            state["cut"] = True
            return True
        return False

    return state, tap


def test_reply_lost_after_the_write_then_retried_adds_nothing_twice(
    redis_server: EmbeddedRedis, direct: redis.Redis
) -> None:
    """The server ran the script but its reply was cut: the retry must not duplicate anything."""
    state, lose_the_script_reply = script_reply_cutter()

    def evalsha_calls() -> int:
        return int(direct.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0))

    with Proxy(redis_server.port, tap=lose_the_script_reply) as proxy:
        db = RedisDB(RedisSettings(url=proxy.url(), retries=3, startup_wait=5))  # type: ignore[call-arg]
        post = {"id": "once", "text": "t", "sender_username": "alice", "timestamp": T0}
        db.add_user_post("alice", {**post, "id": "before"})
        calls = evalsha_calls()
        state["armed"] = True
        db.add_user_post("alice", post)
        assert state["cut"]
    assert evalsha_calls() - calls >= 2, "the script ran, lost its reply, and ran again"
    assert direct.zcard(keys.posted_tweets("alice")) == 2
    doc = json.loads(direct.execute_command("JSON.GET", keys.model_key(keys.POST_PREFIX, "once")))
    assert doc["accounts"] == ["alice"]


@pytest.mark.parametrize("facade", ["sync", "async"])
def test_tweet_link_reply_lost_then_retried_is_one_entry(
    redis_server: EmbeddedRedis, direct: redis.Redis, facade: str
) -> None:
    """A repeated link is a second entry, but a retry of the same call is not (its token)."""
    state, lose_the_link_reply = script_reply_cutter()

    key = keys.created_tweet("answer_comment")
    direct.delete(key)
    with Proxy(redis_server.port, tap=lose_the_link_reply) as proxy:
        settings = RedisSettings(url=proxy.url(), retries=3, startup_wait=5)  # type: ignore[call-arg]
        db: Any = RedisDB(settings) if facade == "sync" else AsyncBridge(AsyncRedisDB(settings), None)
        db.save_tweet_link("answer_comment", "42")
        state["armed"] = True
        db.save_tweet_link("answer_comment", "42")  # its reply is lost: retried
        assert state["cut"]
        state["armed"] = False
        db.save_tweet_link("answer_comment", "42")
        if facade == "async":
            db.close()
    assert direct.lrange(key, 0, -1) == [b"https://twitter.com/i/web/status/42"] * 3
