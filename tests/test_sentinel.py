"""Sentinel: the master comes from the sentinels, calls follow a failover, acknowledged writes stay.

Every test runs on a real master, replicas and three sentinels started by the project's launcher
(``redis_client.embedded_sentinel``), with ``down-after-milliseconds`` 1000.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import subprocess
import sys
import time
from collections.abc import Iterator

import follow_helpers
import legacy_data
import pytest
import redis
from follow_helpers import following
from sentinel_helpers import (
    USER,
    Writes,
    client_of,
    member_ids,
    post,
    record_ids,
    write_loop_async,
    write_loop_sync,
)

from redis_client import models
from redis_client.aio import AsyncRedisDB
from redis_client.core.errors import ServerUnavailableError, SettingsError
from redis_client.core.settings import RedisSettings, load_settings
from redis_client.db import RedisDB
from redis_client.embedded_sentinel import EmbeddedSentinelSet
from redis_client.models import Post


@pytest.fixture
def ha(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedSentinelSet]:
    """A master, two replicas and three sentinels (each failover leaves the new master a replica)."""
    with EmbeddedSentinelSet(
        replicas=2, sentinels=3, down_after_ms=1000, data_dir=tmp_path_factory.mktemp("ha")
    ) as ha_set:
        yield ha_set


def sentinel_settings(ha: EmbeddedSentinelSet, **extra: object) -> RedisSettings:
    # A host and port that lead nowhere: the address must come from the sentinels.
    return load_settings(
        sentinels=ha.sentinels_setting, host="127.0.0.1", port=1, startup_wait=20, **extra
    )


# --- settings ---


def test_sentinel_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_SENTINELS", "10.0.0.1:26379, sentinel-b:26380,[::1]:26381")
    monkeypatch.setenv("REDIS_SENTINEL_MASTER", "prod")
    monkeypatch.setenv("REDIS_SENTINEL_PASSWORD", "s3cret-sentinel")
    monkeypatch.setenv("REDIS_WAIT_REPLICAS", "1")
    settings = load_settings()
    assert settings.sentinels == (("10.0.0.1", 26379), ("sentinel-b", 26380), ("::1", 26381))
    assert settings.sentinel_master == "prod"
    assert settings.wait_replicas == 1 and settings.wait_timeout_ms == 1000
    assert "s3cret" not in repr(settings) and "s3cret" not in settings.describe()
    assert "prod" in settings.describe() and "sentinel-b:26380" in settings.describe()


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"REDIS_SENTINELS": "host-without-port"}, "REDIS_SENTINELS"),
        ({"REDIS_SENTINELS": "a:26379,,b:26379"}, "REDIS_SENTINELS"),
        ({"REDIS_SENTINELS": "a:99999"}, "REDIS_SENTINELS"),
        ({"REDIS_SENTINELS": "a:26379", "REDIS_CLUSTER": "true"}, "REDIS_CLUSTER"),
        ({"REDIS_WAIT_REPLICAS": "-1"}, "REDIS_WAIT_REPLICAS"),
        ({"REDIS_WAIT_TIMEOUT_MS": "0"}, "REDIS_WAIT_TIMEOUT_MS"),
    ],
)
def test_bad_sentinel_settings_are_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert named in str(caught.value) and "\n" not in str(caught.value)
    cli = subprocess.run(
        [sys.executable, "-m", "redis_client", "migrate", "status"],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=60,
    )
    assert cli.returncode == 2, cli.stderr
    assert named in cli.stderr and "Traceback" not in cli.stderr
    assert len(cli.stderr.strip().splitlines()) == 1, cli.stderr


# --- the master, found through the sentinels only ---


def test_the_master_is_found_through_the_sentinels_only(ha: EmbeddedSentinelSet) -> None:
    db = RedisDB(sentinel_settings(ha))
    db.set("greeting", {"hello": "world"})
    db.add_user_post(USER, post(1))
    master = client_of(ha.master())
    assert master.get("greeting") == b'{"hello": "world"}'
    assert member_ids(master) == {"w1"} and record_ids(master) == {"w1"}
    assert int(db.r.info("server")["tcp_port"]) == ha.master().port
    models.bind(db)
    try:
        assert [p.id for p in Post.find(Post.sender_username == USER).all()] == ["w1"]
    finally:
        models.bind(None)


def test_asyncio_finds_the_master_through_the_sentinels(ha: EmbeddedSentinelSet) -> None:
    async def main() -> tuple[int, list[str]]:
        async with AsyncRedisDB(sentinel_settings(ha)) as db:
            await db.add_user_post(USER, post(2))
            models.bind(db)
            try:
                found = await Post.find(Post.sender_username == USER).aall()
            finally:
                models.bind(None)
            return int((await db.r.info("server"))["tcp_port"]), [p.id for p in found]

    port, ids = asyncio.run(main())
    assert port == ha.master().port and ids == ["w2"]
    assert record_ids(client_of(ha.master())) == {"w2"}


# --- failover while agents write ---


@pytest.mark.parametrize("loop", [write_loop_sync, write_loop_async], ids=["sync", "async"])
def test_a_killed_master_is_followed_and_no_acknowledged_write_is_lost(
    ha: EmbeddedSentinelSet, loop: object
) -> None:
    settings = sentinel_settings(ha, wait_replicas=1)
    writes = Writes()
    thread = loop(settings, writes)  # type: ignore[operator]
    time.sleep(1.0)
    old = ha.kill_master()
    killed = time.monotonic()
    ha.wait_for_new_master(old)
    time.sleep(2.0)
    old.start()  # restarted from its AOF, as systemd would: it must not take writes again
    time.sleep(1.0)
    writes.stop.set()
    thread.join(30)
    assert writes.acked_after(killed) > 0, "writes resumed on the new master without a restart"
    assert set(writes.errors) <= {"ReplicationTimeoutError"}, writes.errors
    ha.wait_stable(40)  # (on a loaded machine the sentinels may fail over once more: any master)
    final = client_of(ha.master())
    missing_members = writes.ids() - member_ids(final)
    missing_records = writes.ids() - record_ids(final)
    assert missing_members == set() and missing_records == set()


@pytest.mark.parametrize("replicas", [1, 2])
def test_a_demoted_master_sends_the_client_back_to_the_sentinels(
    tmp_path_factory: pytest.TempPathFactory, replicas: int
) -> None:
    """``SENTINEL FAILOVER``: the old master lives on and answers READONLY once demoted; no caller
    sees that, and with ``REDIS_WAIT_REPLICAS`` = the number of replicas every acknowledged write
    is on the new master (writes the old master takes before its demotion cannot reach the
    promoted replica, so they are not acknowledged)."""
    with EmbeddedSentinelSet(replicas=replicas, sentinels=3, down_after_ms=1000,
                             data_dir=tmp_path_factory.mktemp("ha")) as ha_set:
        settings = sentinel_settings(ha_set, wait_replicas=replicas, wait_timeout_ms=500)
        writes = Writes()
        thread = write_loop_sync(settings, writes)
        time.sleep(0.5)
        old = ha_set.master()
        ha_set.failover()
        moved = time.monotonic()
        ha_set.wait_for_new_master(old)
        ha_set.wait_stable(40)  # the old master demoted (READONLY from then on)
        time.sleep(1.0)
        writes.stop.set()
        thread.join(30)
        assert set(writes.errors) <= {"ReplicationTimeoutError"}, writes.errors
        assert writes.acked_after(moved) > 0
        final = client_of(ha_set.master())
        assert writes.ids() - member_ids(final) == set()
        assert writes.ids() - record_ids(final) == set()


def test_no_master_reachable_waits_the_startup_wait_then_raises(ha: EmbeddedSentinelSet) -> None:
    db = RedisDB(sentinel_settings(ha).model_copy(update={"startup_wait": 3.0}))
    db.set("k", 1)
    for node in ha.nodes:
        node.kill()
    started = time.monotonic()
    with pytest.raises(ServerUnavailableError) as caught:
        db.get("k")
    waited = time.monotonic() - started
    assert waited >= 2.5, "it waited for a master before giving up"
    assert "REDIS_STARTUP_WAIT" in str(caught.value) and "mymaster" in str(caught.value)


def test_asyncio_waits_for_a_master_without_blocking_the_loop(ha: EmbeddedSentinelSet) -> None:
    async def main() -> tuple[type[BaseException] | None, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.05)
                ticks += 1

        settings = sentinel_settings(ha).model_copy(update={"startup_wait": 2.0})
        async with AsyncRedisDB(settings) as db:
            await db.set("k", 1)
            for node in ha.nodes:
                node.kill()
            tick = asyncio.create_task(ticker())
            try:
                await db.get("k")
                raised = None
            except Exception as exc:
                raised = type(exc)
            tick.cancel()
        return raised, ticks

    raised, ticks = asyncio.run(main())
    assert raised is ServerUnavailableError
    assert ticks >= 15, "other tasks kept running while the call waited for a master"


def test_reads_work_on_a_read_only_replica(ha: EmbeddedSentinelSet) -> None:
    """Pointed at a replica (no sentinels), the first command's store of the prompt map must not
    make a read fail."""
    RedisDB(sentinel_settings(ha)).set("shared", [1, 2])
    replica = ha.replicas()[0]
    deadline = time.monotonic() + 10
    while client_of(replica).get("shared") is None and time.monotonic() < deadline:
        time.sleep(0.05)
    reader = RedisDB(load_settings(url=replica.url))
    assert reader.get("shared") == [1, 2]
    assert reader.get_user_posts(USER) == []
    with pytest.raises(redis.ReadOnlyError):
        reader.set("shared", 3)


# --- the follower and the migration follow the new master ---


def test_the_follower_follows_the_new_master(ha: EmbeddedSentinelSet) -> None:
    settings = sentinel_settings(ha)
    with following(settings) as follower:
        follow_helpers.zadd(client_of(ha.master()), "olduser", "before")
        follow_helpers.wait_until(lambda: follow_helpers.record(client_of(ha.master()), "before"))
        old = ha.kill_master()
        new = ha.wait_for_new_master(old)
        raw = client_of(new)
        follow_helpers.zadd(raw, "olduser", "after")  # a raw write on the new master
        follow_helpers.wait_until(lambda: follow_helpers.record(raw, "after"), timeout=30,
                                  what="the record of a raw write on the new master")
        follow_helpers.wait_until(lambda: follower.mode == "notifications", timeout=30,
                                  what="the follower to follow the new master's notifications")
        follow_helpers.zadd(raw, "olduser", "live")
        follow_helpers.wait_until(lambda: follow_helpers.record(raw, "live"), what="a live record")
        config = raw.config_get("notify-keyspace-events")["notify-keyspace-events"]
        assert "K" in str(config), "notifications were turned on on the new master"
    assert follow_helpers.accounts_of(raw, "before") == ["olduser"]


def test_a_migration_cut_by_a_failover_resumes_on_the_new_master(ha: EmbeddedSentinelSet) -> None:
    master = client_of(ha.master())
    seeded = legacy_data.seed(master, posts=20_000, accounts=20)
    env = {"REDIS_SENTINELS": ha.sentinels_setting, "REDIS_STARTUP_WAIT": "1", "REDIS_URL": ""}
    proc = subprocess.Popen(
        [sys.executable, "-m", "redis_client", "migrate", "run", "--batch-size", "200"],
        cwd=legacy_data.ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    # Kill the master once the posts migration has checkpointed a few batches.
    follow_helpers.wait_until(lambda: len(record_keys(master)) > 2000 or proc.poll() is not None,
                              timeout=60, what="the migration to be under way")
    cut = proc.poll() is None
    old = ha.kill_master()
    new = ha.wait_for_new_master(old)
    proc.communicate(timeout=120)
    final = legacy_data.run_cli("run", env=env | {"REDIS_STARTUP_WAIT": "20"})
    assert final.returncode == 0, final.stderr
    raw = client_of(new)
    legacy_data.assert_posts_exact(raw, seeded)
    assert legacy_data.run_cli("verify", env=env).returncode == 0
    assert cut or proc.returncode == 0


def record_keys(client: redis.Redis[bytes]) -> list[bytes]:
    return list(client.scan_iter(match=b"redis_client_om:post:*", count=5000))


# --- Ray workers get settings, not clients ---


def test_ray_workers_follow_the_sentinels(ha: EmbeddedSentinelSet) -> None:
    ray = pytest.importorskip("ray")
    env = {"REDIS_SENTINELS": ha.sentinels_setting, "REDIS_URL": "", "REDIS_PORT": "1"}
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": env})
    try:
        from redis_client.ray_entrypoint import main

        @ray.remote
        def agent(i: int) -> int:  # built on the worker: no test module is importable there
            db = main()
            db.add_user_post("agent", {"id": f"w{i}", "text": "t", "sender_username": "agent",
                                       "timestamp": 1_700_000_000 + i})
            return len(db.get_user_posts("agent"))

        assert sorted(ray.get([agent.remote(i) for i in (1, 2)]))[-1] == 2
        proxy = ray.get(main.remote())  # a RedisDB pickled by its settings
        assert proxy.settings.sentinels == load_settings(sentinels=ha.sentinels_setting).sentinels
        proxy.add_user_post(USER, post(3))
    finally:
        ray.shutdown()
    assert member_ids(client_of(ha.master())) == {"w1", "w2", "w3"}
    pickled = pickle.loads(pickle.dumps(RedisDB(sentinel_settings(ha))))
    assert [p.id for p in pickled.get_user_posts(USER)] == ["w1", "w2", "w3"]
