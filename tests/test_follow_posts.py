"""The follower and ``posted_tweets``: every change other services make reaches the records, live.

A follower runs in a thread against the session's server; the test writes the legacy keys with
raw redis-py, as an older agent does, and waits (with a deadline) for the records.
"""

from __future__ import annotations

import json
import logging

import pytest
import redis
from follow_helpers import (
    FAST,
    T0,
    accounts_of,
    following,
    legacy_dump,
    member,
    member_ids,
    post_ids_of,
    record,
    wait_until,
    zadd,
)

from redis_client.core import keys
from redis_client.core.settings import RedisSettings
from redis_client.follow import Follower, FollowOptions, iter_report

pytestmark = pytest.mark.usefixtures("redis_db")


def test_zadd_creates_the_record_and_a_second_account_joins_it(
    raw: redis.Redis, redis_settings: RedisSettings
):
    with following(redis_settings):
        zadd(raw, "alice", "p1", "p2")
        wait_until(lambda: accounts_of(raw, "p2") == ["alice"], what="p2's record")
        zadd(raw, "bob", "p2")
        wait_until(lambda: accounts_of(raw, "p2") == ["alice", "bob"], what="bob added to p2")
    doc = record(raw, "p1")
    assert doc == {**json.loads(member("p1", "alice", T0)), "accounts": ["alice"]}


def test_the_record_is_the_one_the_dual_write_makes(
    raw: redis.Redis, redis_settings: RedisSettings, redis_db
):
    redis_db.add_user_post("carol", {"id": "d1", "text": "dual", "sender_username": "carol", "timestamp": T0})
    dual = raw.execute_command("JSON.GET", keys.model_key(keys.POST_PREFIX, "d1"))
    raw.delete(keys.model_key(keys.POST_PREFIX, "d1"))
    with following(redis_settings):  # the start pass finds the member without its record
        wait_until(lambda: record(raw, "d1"), what="d1's record")
    assert json.loads(raw.execute_command("JSON.GET", keys.model_key(keys.POST_PREFIX, "d1"))) == json.loads(
        dual
    )


def test_zrem_takes_the_account_out_and_the_last_one_deletes_the_record(
    raw: redis.Redis, redis_settings: RedisSettings
):
    with following(redis_settings):
        zadd(raw, "alice", "p1", "p2", "p3")
        zadd(raw, "bob", "p2")
        wait_until(lambda: accounts_of(raw, "p2") == ["alice", "bob"], what="p2 shared")
        raw.zrem(keys.posted_tweets("alice"), member("p2", "alice", T0 + 1))
        wait_until(lambda: accounts_of(raw, "p2") == ["bob"], what="alice out of p2")
        raw.zremrangebyrank(keys.posted_tweets("alice"), 0, 0)  # a trim: drops p1
        wait_until(lambda: record(raw, "p1") is None, what="p1 deleted")
        raw.zrem(keys.posted_tweets("bob"), member("p2", "bob", T0))
        wait_until(lambda: record(raw, "p2") is None, what="p2 deleted")
    assert post_ids_of(raw, "alice") == {"p3"}


@pytest.mark.parametrize("how", ["del", "unlink", "expire", "rename"])
def test_the_key_gone_takes_the_account_out_of_every_record(
    raw: redis.Redis, redis_settings: RedisSettings, how: str
):
    with following(redis_settings):
        zadd(raw, "alice", *[f"a{i}" for i in range(30)])
        zadd(raw, "bob", "a7")
        wait_until(lambda: accounts_of(raw, "a7") == ["alice", "bob"], what="a7 shared")
        zkey = keys.posted_tweets("alice")
        if how == "del":
            raw.delete(zkey)
        elif how == "unlink":
            raw.unlink(zkey)
        elif how == "expire":
            raw.pexpire(zkey, 50)
        else:
            raw.rename(zkey, keys.posted_tweets("alice2"))
        wait_until(
            lambda: accounts_of(raw, "a7") == (["bob", "alice2"] if how == "rename" else ["bob"]),
            what="a7 without alice",
        )
        wait_until(
            lambda: record(raw, "a3") == (None if how != "rename" else record(raw, "a3")),
            what="alice's own posts",
        )
    assert post_ids_of(raw, "alice") == set()
    if how == "rename":
        assert post_ids_of(raw, "alice2") == {f"a{i}" for i in range(30)}
    else:
        assert record(raw, "a3") is None


def test_appends_below_the_newest_member_and_score_updates_are_found(
    raw: redis.Redis, redis_settings: RedisSettings
):
    with following(redis_settings) as follower:
        zadd(raw, "alice", "new", ts=T0 + 1000)
        wait_until(lambda: record(raw, "new"), what="new")
        zadd(raw, "alice", "old", ts=T0 - 1000)  # backdated: outside the append window
        wait_until(lambda: record(raw, "old"), what="old")
        raw.zadd(keys.posted_tweets("alice"), {member("new", "alice", T0 + 1000): T0 - 5000})  # moved down
        zadd(raw, "alice", "later", ts=T0 + 2000)
        wait_until(lambda: record(raw, "later"), what="later")
        assert follower.stats.snapshot()["keys_compared"] >= 2
    assert post_ids_of(raw, "alice") == {"new", "old", "later"}


def test_a_stream_of_appends_is_read_as_windows(raw: redis.Redis, redis_settings: RedisSettings):
    with following(redis_settings) as follower:
        for i in range(200):
            zadd(raw, "alice", f"s{i}", ts=T0 + i)
        wait_until(lambda: len(post_ids_of(raw, "alice")) == 200, what="200 records")
        stats = follower.stats.snapshot()
    assert stats["keys_appended"] >= 1
    assert stats["failed"] == 0


def test_a_big_key_is_compared_with_zscan(raw: redis.Redis, redis_settings: RedisSettings):
    small = FollowOptions(**{**FAST.__dict__, "atomic_read_max": 50, "window_max": 20, "scan_count": 10})
    many = [f"b{i}" for i in range(400)]
    zadd(raw, "big", *many)
    with following(redis_settings, small):
        assert post_ids_of(raw, "big") == set(many)
        raw.zrem(keys.posted_tweets("big"), *[member(f"b{i}", "big", T0 + i) for i in range(0, 400, 4)])
        zadd(raw, "big", *[f"c{i}" for i in range(100)], ts=T0 - 1)  # 100 at once: beyond the window
        expected = {f"b{i}" for i in range(400) if i % 4} | {f"c{i}" for i in range(100)}
        wait_until(lambda: post_ids_of(raw, "big") == expected, what="the big key in step")


def test_numeric_ids_of_older_writers_are_followed(raw: redis.Redis, redis_settings: RedisSettings):
    old = json.dumps({"id": 12345, "text": "numeric", "sender_username": "alice", "timestamp": T0})
    with following(redis_settings):
        raw.zadd(keys.posted_tweets("alice"), {old: T0})
        wait_until(lambda: accounts_of(raw, "12345") == ["alice"], what="record 12345")
        zadd(raw, "alice", "after", ts=T0 + 5)
        raw.zrem(keys.posted_tweets("alice"), old)
        wait_until(lambda: record(raw, "12345") is None, what="12345 removed")
    assert post_ids_of(raw, "alice") == {"after"}


@pytest.mark.parametrize("user", ["a:b", "*", "[g]ina", "{x}", "with space", "é漢字🙂", "a* | @text:x", "\\"])
def test_any_username(raw: redis.Redis, redis_settings: RedisSettings, user: str):
    with following(redis_settings):
        zadd(raw, user, "u1", "u2")
        wait_until(lambda: accounts_of(raw, "u2") == [user], what="u2")
        raw.zrem(keys.posted_tweets(user), member("u1", user, T0))
        wait_until(lambda: record(raw, "u1") is None, what="u1 removed")
    assert accounts_of(raw, "u2") == [user]


def test_names_the_index_cannot_tell_apart_stay_exact(raw: redis.Redis, redis_settings: RedisSettings):
    # RediSearch trims blanks around tags: " bob" and "bob" match one query; records must not mix.
    with following(redis_settings):
        zadd(raw, " bob", "t1", "t2")
        wait_until(lambda: accounts_of(raw, "t2") == [" bob"], what="' bob' records")
        zadd(raw, "bob", "t2", "t3")
        wait_until(lambda: accounts_of(raw, "t2") == [" bob", "bob"], what="bob joins t2")
        raw.delete(keys.posted_tweets("bob"))
        wait_until(lambda: accounts_of(raw, "t2") == [" bob"], what="bob leaves t2")
    assert post_ids_of(raw, " bob") == {"t1", "t2"}
    assert record(raw, "t3") is None


def test_a_name_no_query_can_express_still_gets_its_records(raw: redis.Redis, redis_settings: RedisSettings):
    user = "ctl\x01name"
    with following(redis_settings):
        zadd(raw, user, "q1", "q2")
        wait_until(lambda: accounts_of(raw, "q2") == [user], what="q2")
    assert post_ids_of(raw, user) == {"q1", "q2"}


def test_malformed_members_are_skipped_and_reported_once(
    raw: redis.Redis, redis_settings: RedisSettings, caplog: pytest.LogCaptureFixture
):
    bad = '{"id": "m1", "text": "' + "secret-ish text " * 20 + '", "timestamp": "yesterday"}'
    caplog.set_level(logging.DEBUG, logger="redis_client")
    with following(redis_settings) as follower:
        raw.zadd(keys.posted_tweets("alice"), {bad: T0, '{"cut off': T0 + 1})
        zadd(raw, "alice", "good", ts=T0 + 2)
        wait_until(lambda: record(raw, "good"), what="the valid post after the bad ones")
        zadd(raw, "alice", "good2", ts=T0 + 3)  # the bad members are read again: reported once
        wait_until(lambda: record(raw, "good2"), what="good2")
        assert follower.stats.snapshot()["failed"] == 0
    entries = list(iter_report(raw))
    assert len(entries) == 2
    for entry in entries:
        assert entry.key == "posted_tweets:alice" and entry.reason
        assert entry.preview is not None and len(entry.preview) <= 83
    assert any("timestamp" in e.reason for e in entries)
    assert record(raw, "m1") is None
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged.count("skipped bad legacy data in posted_tweets:alice") == 2
    assert "secret-ish" not in logged and "text of good" not in logged  # no stored value in logs


def test_legacy_keys_are_never_written(raw: redis.Redis, redis_settings: RedisSettings):
    zadd(raw, "alice", "p1", "p2")
    raw.zadd(keys.posted_tweets("alice"), {'{"bad": 1}': T0 + 5})
    raw.hset(keys.twitter_data("alice"), mapping={"name": "A", "id": "1", "access_token": "tok"})
    raw.set(keys.action_time("alice", "last_likes_time"), "1700000000")
    raw.set("other", json.dumps({"x": 1}))
    before = legacy_dump(raw)
    spy = raw.pubsub()
    spy.psubscribe("__keyspace@0__:*")
    assert spy.get_message(timeout=1)["type"] == "psubscribe"
    raw.config_set("notify-keyspace-events", "KA")
    with following(redis_settings):  # its start pass writes every record
        wait_until(lambda: record(raw, "p2"), what="p2")
        raw.zadd(keys.posted_tweets("bob"), {member("x", "bob"): T0})  # the test's only write
        wait_until(lambda: record(raw, "x"), what="x")
        raw.zrem(keys.posted_tweets("bob"), member("x", "bob"))
        wait_until(lambda: record(raw, "x") is None, what="x removed")
    assert Follower(redis_settings, FAST).reconcile(full=True).in_step
    written = []
    while (message := spy.get_message(timeout=0.3)) is not None:
        if message["type"] == "pmessage":
            key = message["channel"].split(b":", 1)[1]
            if not key.startswith(b"redis_client_om:"):
                written.append((key, message["data"]))
    spy.close()
    # The test's own writes only: the follower wrote no legacy key (function_variables included).
    assert written == [
        (b"posted_tweets:bob", b"zadd"),
        (b"posted_tweets:bob", b"zrem"),
        (b"posted_tweets:bob", b"del"),
    ], written
    assert legacy_dump(raw) == before
    assert member_ids(raw, "alice") == {"p1", "p2"}
