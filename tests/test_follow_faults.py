"""The follower under faults: SIGKILLed and restarted with writes in between, a Redis restart, a
server that refuses CONFIG (or the subscription) to this user."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from follow_helpers import (
    FAST,
    T0,
    account,
    accounts_of,
    following,
    member,
    member_ids,
    post_ids_of,
    record,
    wait_until,
    zadd,
)
from legacy_data import ROOT

from redis_client.core import keys
from redis_client.core.settings import load_settings
from redis_client.embedded import EmbeddedRedis
from redis_client.follow import FollowOptions

USERS = ["alice", "bob", "c:arol"]


def _sync_process(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "redis_client",
            "sync",
            "--interval",
            "1",
            "--fallback-interval",
            "0.5",
            "--lease-timeout",
            "2",
            "--log-interval",
            "2",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _writer(raw: redis.Redis, stop: threading.Event, written: list[str], seed: int) -> None:
    """An older agent: appends, and now and then removes one of its members."""
    rng = random.Random(seed)
    i = 0
    while not stop.is_set():
        user = rng.choice(USERS)
        i += 1
        pid = f"w{seed}-{i}"
        raw.zadd(keys.posted_tweets(user), {member(pid, user, T0 + i): T0 + i})
        written.append(pid)
        if i % 7 == 0:
            victim = raw.zrange(keys.posted_tweets(user), 0, 0)
            if victim:
                raw.zrem(keys.posted_tweets(user), victim[0])
        if i % 25 == 0:
            raw.hset(keys.twitter_data(user), mapping={"name": f"{user} {i}", "id": "7"})
        time.sleep(0.002)


def _records(raw: redis.Redis) -> int:
    return sum(1 for _ in raw.scan_iter(match=keys.model_pattern(keys.POST_PREFIX), count=1000))


def _assert_in_step(raw: redis.Redis) -> None:
    for user in USERS:
        wait_until(
            lambda u=user: post_ids_of(raw, u) == member_ids(raw, u),
            timeout=20,
            what=f"{user}'s records equal to its members",
        )
    for key in raw.scan_iter(match=keys.model_pattern(keys.POST_PREFIX), count=1000):
        accounts = json.loads(raw.execute_command("JSON.GET", key) or '{"accounts": [0]}')["accounts"]
        assert accounts and len(accounts) == len(set(accounts)), (key, accounts)


def test_sigkill_takeover_and_restart_with_writes_in_between(raw: redis.Redis, redis_db, redis_settings):
    env = {"REDIS_URL": redis_settings.url}
    stop = threading.Event()
    written: list[str] = []
    writer = threading.Thread(target=_writer, args=(raw, stop, written, 1))
    first = _sync_process(env)
    procs = [first]
    try:
        writer.start()
        wait_until(lambda: len(written) > 50 and _records(raw) > 30, timeout=30, what="following")
        holder = raw.get(keys.FOLLOW_LEASE)
        second = _sync_process(env)  # stands by: the first holds the lease
        procs.append(second)
        time.sleep(1.5)
        first.send_signal(signal.SIGKILL)  # mid-stream; its lease is left to expire
        first.wait(10)
        wait_until(lambda: raw.get(keys.FOLLOW_LEASE) not in (None, holder), timeout=15, what="takeover")
        mark = len(written)
        wait_until(
            lambda: len(written) > mark + 30 and any(record(raw, p) for p in written[mark:]),
            timeout=20,
            what="the standby following",
        )
        second.send_signal(signal.SIGKILL)
        second.wait(10)
        time.sleep(0.5)  # writes while no follower runs at all
        stop.set()
        writer.join(10)
        third = _sync_process(env)
        procs.append(third)
        _assert_in_step(raw)
        third.send_signal(signal.SIGTERM)
        assert third.wait(20) == 0
    finally:
        stop.set()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(data_dir=tmp_path / "data").start()
    yield server
    server.stop()


def test_redis_restart_is_ridden_out(own_server: EmbeddedRedis):
    settings = load_settings(url=own_server.url, startup_wait=5, retries=2, retry_backoff_cap=0.2)
    raw = redis.Redis.from_url(own_server.url)
    with following(settings) as follower:
        zadd(raw, "alice", "before")
        wait_until(lambda: record(raw, "before"), what="before")
        own_server.kill()
        time.sleep(0.5)
        own_server.start()  # same port and data; notify-keyspace-events is back to its default
        zadd(raw, "alice", "right-after", ts=T0 + 1)  # possibly before the follower is back
        raw.zrem(keys.posted_tweets("alice"), member("before", "alice", T0))
        wait_until(
            lambda: record(raw, "right-after") and record(raw, "before") is None,
            timeout=20,
            what="the writes around the restart",
        )
        wait_until(lambda: follower.mode == "notifications", what="notifications on again")
        zadd(raw, "alice", "later", ts=T0 + 2)
        wait_until(lambda: record(raw, "later"), what="later")
        raw.execute_command("FT.DROPINDEX", "redis_client_om:post:index")  # the index vanishes
        raw.zrem(keys.posted_tweets("alice"), member("later", "alice", T0 + 2))
        wait_until(lambda: record(raw, "later") is None, what="removal without the index")
    assert post_ids_of(raw, "alice") == {"right-after"}
    raw.close()


PASSWORD = "follow-bot-pw"
KEYS = ["~posted_tweets:*", "~twitter_data:*", "~last_*", "~redis_client_om:*"]


def _acl_server(tmp_path: Path, channels: str, *extra: str) -> EmbeddedRedis:
    args = [
        *("--user", "default", "off"),
        *("--user", "bot", "on", f">{PASSWORD}", *KEYS, channels, "+@all", "-@dangerous", "+info"),
        *("--user", "admin", "on", ">admin-pw", "~*", "&*", "+@all"),
        *extra,
    ]
    return EmbeddedRedis(data_dir=tmp_path / "acl", extra_args=args).start()


def _bot(server: EmbeddedRedis):  # type: ignore[no-untyped-def]
    return load_settings(url=f"redis://bot:{PASSWORD}@127.0.0.1:{server.port}/0", startup_wait=5)


def _admin(server: EmbeddedRedis) -> redis.Redis:
    return redis.Redis(port=server.port, username="admin", password="admin-pw")


def test_config_refused_but_notifications_set_by_the_operator(tmp_path: Path):
    server = _acl_server(tmp_path, "&*", "--notify-keyspace-events", "Kghz$xe")
    try:
        raw = _admin(server)
        with following(_bot(server)) as follower:
            assert follower.mode == "notifications"
            zadd(raw, "alice", "p1")
            wait_until(lambda: record(raw, "p1"), what="p1")
        raw.close()
    finally:
        server.stop()


@pytest.mark.parametrize("channels", ["&*", "resetchannels"], ids=["config-refused", "subscribe-refused"])
def test_refused_falls_back_to_passes_and_says_how(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, channels: str
):
    caplog.set_level(logging.INFO, logger="redis_client.follow")
    server = _acl_server(tmp_path, channels)
    polling = FollowOptions(
        **{**FAST.__dict__, "interval": 30.0, "fallback_interval": 0.3, "probe_timeout": 0.5}
    )
    try:
        raw = _admin(server)
        with following(_bot(server), polling) as follower:
            assert follower.mode == "polling"
            zadd(raw, "alice", "p1", "p2")
            raw.hset(keys.twitter_data("alice"), mapping={"name": "A", "id": "1", "access_token": "t"})
            wait_until(lambda: accounts_of(raw, "p2") == ["alice"] and account(raw, "alice"), what="a pass")
            raw.zrem(keys.posted_tweets("alice"), member("p1", "alice", T0))
            wait_until(lambda: record(raw, "p1") is None, what="the removal, by a pass")
        raw.close()
    finally:
        server.stop()
    warning = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    assert "notify-keyspace-events" in warning and "Kghz$xe" in warning
    assert ("may not subscribe" in warning) == (channels == "resetchannels")
    assert PASSWORD not in caplog.text


@pytest.mark.soak
def test_soak_follower_and_server_killed_again_and_again(tmp_path: Path):
    """``pytest -m soak``: SOAK_CYCLES rounds of a follower SIGKILL and a Redis SIGKILL + restart
    under a steady writer; the records end exactly in step."""
    cycles = int(os.environ.get("SOAK_CYCLES", "5"))
    server = EmbeddedRedis(data_dir=tmp_path / "soak").start()
    raw = redis.Redis.from_url(server.url, retry_on_error=[redis.ConnectionError], socket_timeout=5)
    env = {"REDIS_URL": server.url, "REDIS_RETRIES": "2"}
    stop = threading.Event()
    written: list[str] = []
    procs: list[subprocess.Popen[str]] = []

    def writer() -> None:
        while not stop.is_set():
            try:
                _writer(raw, stop, written, len(written))
            except redis.ConnectionError:
                time.sleep(0.2)  # the server is down: the agent retries later

    thread = threading.Thread(target=writer)
    try:
        procs.append(_sync_process(env))
        thread.start()
        for _ in range(cycles):
            time.sleep(3)
            procs[-1].send_signal(signal.SIGKILL)
            procs.append(_sync_process(env))
            time.sleep(2)
            server.kill()
            time.sleep(0.5)
            server.start()
        time.sleep(3)
        stop.set()
        thread.join(30)
        _assert_in_step(raw)
    finally:
        stop.set()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
        raw.close()
        server.stop()
