"""``Follower.reconcile`` / ``redis-client sync --once``: what changed while nothing followed, and
the exit codes; ``redis-client sync`` stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import legacy_data
import pytest
import redis
from follow_helpers import FAST, T0, accounts_of, member, post_ids_of, record, wait_until, zadd
from legacy_data import ROOT, SECRET, account_records, assert_posts_exact

from redis_client.core import keys
from redis_client.core.settings import RedisSettings
from redis_client.embedded import EmbeddedRedis, free_port
from redis_client.follow import Follower

pytestmark = pytest.mark.usefixtures("redis_db")


def sync(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "redis_client", "sync", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_reconcile_builds_every_record_of_realistic_legacy_data(
    raw: redis.Redis, redis_settings: RedisSettings
):
    seeded = legacy_data.seed(raw, posts=3000, accounts=30)
    result = Follower(redis_settings, FAST).reconcile()
    assert result.in_step
    assert_posts_exact(raw, seeded)
    records = account_records(raw)
    assert set(records) == seeded.valid_accounts
    for username, times in seeded.action_times.items():
        for action, value in times.items():
            assert records[username][action] == value
    assert SECRET not in str(records)
    assert result.counts.bad >= seeded.bad_members
    again = Follower(redis_settings, FAST).reconcile()  # the fingerprints say: nothing changed
    assert again.in_step and again.keys_marked == 0
    assert again.counts.posts_written == 0 and again.counts.accounts_updated == 0


def test_changes_made_while_nothing_followed_are_reconciled(raw: redis.Redis, redis_settings: RedisSettings):
    zadd(raw, "alice", *[f"a{i}" for i in range(20)])
    zadd(raw, "bob", "a1", "b1")
    raw.hset(keys.twitter_data("alice"), mapping={"name": "A", "id": "1"})
    raw.hset(keys.twitter_data("bob"), mapping={"name": "B", "id": "2"})
    assert Follower(redis_settings, FAST).reconcile().in_step
    # Downtime: removals, a deleted key, a swap that keeps the size, a gone account.
    raw.zrem(keys.posted_tweets("alice"), member("a1", "alice", T0 + 1), member("a2", "alice", T0 + 2))
    raw.zrem(keys.posted_tweets("alice"), member("a19", "alice", T0 + 19))
    zadd(raw, "alice", "n1", ts=T0 + 100)
    raw.delete(keys.posted_tweets("bob"))
    raw.delete(keys.twitter_data("bob"))
    result = Follower(redis_settings, FAST).reconcile()
    assert result.in_step and result.keys_marked == 2
    assert post_ids_of(raw, "alice") == {f"a{i}" for i in range(20)} - {"a1", "a2", "a19"} | {"n1"}
    assert post_ids_of(raw, "bob") == set()
    assert record(raw, "a1") is None and record(raw, "b1") is None
    assert raw.exists(keys.model_key(keys.ACCOUNT_PREFIX, "alice"))
    assert not raw.exists(keys.model_key(keys.ACCOUNT_PREFIX, "bob"))


def test_full_compares_every_member(raw: redis.Redis, redis_settings: RedisSettings):
    zadd(raw, "alice", *[f"a{i}" for i in range(10)])
    assert Follower(redis_settings, FAST).reconcile().in_step
    raw.delete(keys.model_key(keys.POST_PREFIX, "a4"))  # someone deleted a record: no key changed
    assert Follower(redis_settings, FAST).reconcile().keys_marked == 0
    result = Follower(redis_settings, FAST).reconcile(full=True)
    assert result.in_step and result.counts.records_created == 1
    assert accounts_of(raw, "a4") == ["alice"]


def test_sync_once_exit_codes(raw: redis.Redis):
    zadd(raw, "alice", "p1")
    raw.zadd(keys.posted_tweets("alice"), {'{"id": "bad", "text": "no time"}': T0 + 1})
    done = sync("--once")
    assert done.returncode == 0, done.stderr
    assert "in step" in done.stdout and "1 malformed" in done.stdout
    assert "posted_tweets:alice" in done.stdout and record(raw, "p1")

    raw.set(keys.model_key(keys.POST_PREFIX, "clash"), "a string where a record goes")
    zadd(raw, "alice", "clash", ts=T0 + 5)
    failed = sync("--once")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "NOT in step" in failed.stdout and "cannot write the Post record" in failed.stdout


def test_sync_refuses_a_server_without_modules_or_none_at_all(tmp_path):
    with EmbeddedRedis(data_dir=tmp_path / "plain", modules=False) as plain:
        refused = sync(env={"REDIS_URL": plain.url})  # live: refused before following
        assert refused.returncode == 2 and "JSON" in refused.stderr
    nobody = sync(
        "--once", env={"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "REDIS_STARTUP_WAIT": "0.3"}
    )
    assert nobody.returncode == 2 and "error" in nobody.stderr


def test_sync_follows_until_sigterm_then_exits_0(raw: redis.Redis):
    proc = subprocess.Popen(
        [sys.executable, "-m", "redis_client", "sync", "--interval", "1", "--lease-timeout", "2"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        zadd(raw, "alice", "live1")
        wait_until(lambda: record(raw, "live1"), timeout=30, what="a record from the CLI follower")
        zadd(raw, "alice", "live2", ts=T0 + 1)
        wait_until(lambda: record(raw, "live2"), what="live2")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "following live" in err
    assert raw.get(keys.FOLLOW_LEASE) is None  # released on the way out
