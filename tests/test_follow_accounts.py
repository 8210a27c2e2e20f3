"""The follower and accounts: ``twitter_data`` written or deleted, action times set; no token copied."""

from __future__ import annotations

import json
import logging

import pytest
import redis
from follow_helpers import account, following, wait_until

from redis_client.core import keys
from redis_client.core.settings import RedisSettings
from redis_client.follow import iter_report

pytestmark = pytest.mark.usefixtures("redis_db")

TOKEN = "tok-NEVER-COPIED-8d1"
DATA = {
    "access_token": TOKEN,
    "refresh_token": TOKEN,
    "expires_at": "1700000000",
    "name": "Alice",
    "username": "alice",
    "id": "42",
    "auth_token": TOKEN,
    "csrf_token": TOKEN,
    "guest_id": TOKEN,
}


def test_twitter_data_written_refreshed_and_deleted(
    raw: redis.Redis, redis_settings: RedisSettings, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG, logger="redis_client")
    with following(redis_settings):
        raw.hset(keys.twitter_data("alice"), mapping=DATA)
        found = wait_until(lambda: account(raw, "alice"), what="alice's record")
        assert (found["name"], found["twitter_id"], found["expires_at"]) == ("Alice", "42", 1700000000.0)
        raw.hset(keys.twitter_data("alice"), "name", "Alice B.")  # the auth service refreshes
        wait_until(lambda: (account(raw, "alice") or {}).get("name") == "Alice B.", what="new name")
        raw.delete(keys.twitter_data("alice"))
        wait_until(lambda: account(raw, "alice") is None, what="alice's record removed")
    everything = json.dumps([r.getMessage() for r in caplog.records])
    assert TOKEN not in everything
    assert not raw.keys("*NEVER*")


def test_older_json_string_twitter_data_and_expiry(raw: redis.Redis, redis_settings: RedisSettings):
    with following(redis_settings):
        raw.set(keys.twitter_data("old:style"), json.dumps(DATA))
        found = wait_until(lambda: account(raw, "old:style"), what="the record")
        assert found["twitter_id"] == "42"
        assert TOKEN not in json.dumps(found)
        raw.pexpire(keys.twitter_data("old:style"), 50)
        wait_until(lambda: account(raw, "old:style") is None, what="removed on expiry")


def test_action_times_only_move_forward(raw: redis.Redis, redis_settings: RedisSettings):
    key = keys.action_time("alice", "last_likes_time")
    with following(redis_settings):
        raw.hset(keys.twitter_data("alice"), mapping=DATA)
        wait_until(lambda: account(raw, "alice"), what="the record")
        raw.set(key, "1700000100.5")
        wait_until(lambda: account(raw, "alice")["last_likes_time"] == 1700000100.5, what="time set")
        raw.set(key, "1600000000")  # older: the record keeps the newer time
        raw.set(keys.action_time("alice", "last_create_post_time"), "1700000200")
        wait_until(lambda: account(raw, "alice")["last_create_post_time"] == 1700000200, what="other time")
        assert account(raw, "alice")["last_likes_time"] == 1700000100.5
        raw.delete(key)  # a deleted time changes nothing either
        raw.set(keys.action_time("alice", "last_comment_agix_time"), "5")
        wait_until(lambda: account(raw, "alice")["last_comment_agix_time"] == 5, what="third time")
        assert account(raw, "alice")["last_likes_time"] == 1700000100.5


def test_an_action_time_without_an_account_creates_nothing(raw: redis.Redis, redis_settings: RedisSettings):
    with following(redis_settings) as follower:
        raw.set(keys.action_time("ghost", "last_likes_time"), "1700000000")
        raw.hset(keys.twitter_data("later"), mapping=DATA)
        wait_until(lambda: account(raw, "later"), what="the next account")
        assert follower.stats.snapshot()["failed"] == 0
    assert account(raw, "ghost") is None


def test_bad_account_data_is_reported_without_its_value(raw: redis.Redis, redis_settings: RedisSettings):
    with following(redis_settings) as follower:
        raw.rpush(keys.twitter_data("listed"), TOKEN)
        raw.set(keys.twitter_data("notjson"), f"not json {TOKEN}")
        raw.hset(keys.twitter_data("fine"), mapping=DATA)
        raw.set(keys.action_time("fine", "last_likes_time"), json.dumps("soon"))
        wait_until(lambda: len(list(iter_report(raw))) == 3, what="three reports")
        wait_until(lambda: account(raw, "fine"), what="the valid account")
        assert follower.stats.snapshot()["failed"] == 0
    entries = list(iter_report(raw))
    assert {e.key for e in entries} == {"twitter_data:listed", "twitter_data:notjson", "last_likes_time:fine"}
    assert all(e.preview is None for e in entries)
    assert TOKEN not in json.dumps([e.__dict__ for e in entries])
    assert account(raw, "listed") is None and account(raw, "notjson") is None
    assert account(raw, "fine")["last_likes_time"] is None
