"""JSON values, sets, sorted sets and the pattern helpers of RedisDB, on a real server."""

from __future__ import annotations

import json
import logging
import math

import pytest
import redis
from conftest import HOSTILE_USERNAMES, stored_json

from redis_client.core import keys
from redis_client.core.errors import InvalidValueError, StoredValueError
from redis_client.db import RedisDB

SECRET = "SECRET-oauth-token-5f2a9c"

VALUES = [
    {"name": "Alice", "active": True, "tags": ["x", "y"], "n": None},
    [1, 2.5, "three", {"four": 4}],
    "plain string",
    "é漢字🙂",
    0,
    -17,
    3.25,
    True,
    False,
    "",
    [],
    {},
]


@pytest.mark.parametrize("value", VALUES)
def test_set_get_round_trip_stores_json_text(redis_db: RedisDB, raw: redis.Redis, value) -> None:
    redis_db.set("user:1001", value)
    assert redis_db.get("user:1001") == value
    assert type(redis_db.get("user:1001")) is type(value)
    # Another service reads plain JSON text.
    assert stored_json(raw, "user:1001") == value
    assert raw.type("user:1001") == b"string"


def test_get_missing_key(redis_db: RedisDB) -> None:
    assert redis_db.get("missing") is None
    marker = object()
    assert redis_db.get("missing", marker) is marker
    assert redis_db.get("missing", default=[]) == []


def test_get_value_written_by_another_service(redis_db: RedisDB, raw: redis.Redis) -> None:
    raw.set("cfg", json.dumps({"limit": 5}))
    raw.set("count", "12")
    raw.set("ratio", b"0.5")
    assert redis_db.get("cfg") == {"limit": 5}
    assert redis_db.get("count") == 12
    assert redis_db.get("ratio") == 0.5


def test_empty_stored_string_reads_as_missing(redis_db: RedisDB, raw: redis.Redis) -> None:
    raw.set("blank", b"")
    assert redis_db.get("blank") is None
    assert redis_db.get("blank", "fallback") == "fallback"


def test_set_none_deletes(redis_db: RedisDB, raw: redis.Redis) -> None:
    redis_db.set("k", {"a": 1})
    redis_db.set("k", None)
    assert raw.exists("k") == 0
    redis_db.setex("k2", [1], 100)
    redis_db.setex("k2", None, 100)
    assert raw.exists("k2") == 0


def test_setex_sets_value_and_ttl(redis_db: RedisDB, raw: redis.Redis) -> None:
    redis_db.setex("session:abc", {"token": SECRET}, 120)
    assert redis_db.get("session:abc") == {"token": SECRET}
    assert 0 < raw.ttl("session:abc") <= 120


def test_set_keep_ttl(redis_db: RedisDB, raw: redis.Redis) -> None:
    redis_db.setex("k", 1, 300)
    redis_db.set("k", 2, keep_ttl=True)
    assert redis_db.get("k") == 2
    assert 0 < raw.ttl("k") <= 300
    redis_db.set("k", 3)
    assert redis_db.get("k") == 3
    assert raw.ttl("k") == -1  # a plain set clears the TTL, as SET does


def test_set_default(redis_db: RedisDB, raw: redis.Redis) -> None:
    redis_db.set_default("d", {"v": 1})
    assert redis_db.get("d") == {"v": 1}
    redis_db.set_default("d", {"v": 2})
    assert redis_db.get("d") == {"v": 1}
    redis_db.set("e", "")
    redis_db.set_default("e", "filled")
    assert redis_db.get("e") == "filled"
    raw.set("blank", b"")
    redis_db.set_default("blank", "filled")
    assert redis_db.get("blank") == "filled"
    redis_db.set_default("f", None)
    redis_db.set_default("g", "")
    assert raw.exists("f", "g") == 0


def test_delete_and_item_access(redis_db: RedisDB, raw: redis.Redis) -> None:
    redis_db["item"] = {"x": [1, 2]}
    assert redis_db["item"] == {"x": [1, 2]}
    assert stored_json(raw, "item") == {"x": [1, 2]}
    del redis_db["item"]
    assert raw.exists("item") == 0
    assert redis_db["item"] is None
    redis_db.set("other", 1)
    redis_db.delete("other")
    redis_db.delete("never-existed")
    assert raw.exists("other") == 0


def test_parse_list(redis_db: RedisDB) -> None:
    redis_db.set("json_list", ["a", "b", 3])
    redis_db.set("csv", "a,b,c")
    redis_db.set("dash", "-")
    redis_db.set("empty", "")
    redis_db.set("obj", {"a": 1})
    assert redis_db.parse_list("json_list") == ["a", "b", 3]
    assert redis_db.parse_list("csv") == ["a", "b", "c"]
    assert redis_db.parse_list("dash") == []
    assert redis_db.parse_list("empty") == []
    assert redis_db.parse_list("missing") == []
    with pytest.raises(ValueError, match="obj"):
        redis_db.parse_list("obj")


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [{"token": {SECRET}}, object(), {"x": math.nan, "token": SECRET}, [math.inf], b"bytes"],
)
def test_unencodable_value_is_refused_and_nothing_written(
    redis_db: RedisDB, raw: redis.Redis, bad
) -> None:
    with pytest.raises(InvalidValueError) as info:
        redis_db.set("session:new", bad)
    assert "session:new" in str(info.value)
    assert SECRET not in str(info.value)
    assert raw.exists("session:new") == 0
    with pytest.raises(InvalidValueError, match="session:ex"):
        redis_db.setex("session:ex", bad, 60)
    assert raw.exists("session:ex") == 0
    with pytest.raises(InvalidValueError):
        redis_db["session:item"] = bad
    assert raw.exists("session:item") == 0


def test_unencodable_value_keeps_the_previous_one(redis_db: RedisDB, raw: redis.Redis) -> None:
    redis_db.setex("kept", {"v": 1}, 500)
    with pytest.raises(InvalidValueError):
        redis_db.set("kept", {1, 2})
    assert redis_db.get("kept") == {"v": 1}
    assert raw.ttl("kept") > 0


@pytest.mark.parametrize("stored", [b"not json " + SECRET.encode(), b"{'a': 1}", b"\xff\xfe\x00"])
def test_stored_non_json_value_raises_naming_the_key(
    redis_db: RedisDB, raw: redis.Redis, stored: bytes
) -> None:
    raw.set("legacy:blob", stored)
    with pytest.raises(StoredValueError) as info:
        redis_db.get("legacy:blob")
    assert "legacy:blob" in str(info.value)
    assert SECRET not in str(info.value)
    with pytest.raises(StoredValueError):
        redis_db["legacy:blob"]
    with pytest.raises(StoredValueError):
        redis_db.parse_list("legacy:blob")
    assert raw.get("legacy:blob") == stored  # reading never rewrites


# -- logs ----------------------------------------------------------------------------------------


def test_logs_name_the_key_never_the_value(
    redis_db: RedisDB, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    redis_db.set("twitter_session:alice", {"token": SECRET})
    redis_db.setex("session:xyz", {"token": SECRET}, 60)
    redis_db["item:secret"] = SECRET
    redis_db.set_default("default:secret", SECRET)
    assert redis_db.get("twitter_session:alice") == {"token": SECRET}
    redis_db.delete("session:xyz")
    redis_db.set("twitter_session:alice", None)
    redis_db.add_user_post("alice", {"id": "1", "text": SECRET, "sender_username": "alice",
                                     "timestamp": 1700000000})
    redis_db.get_user_posts("alice")
    redis_db.remove_account("alice")
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "twitter_session:alice" in text
    assert "session:xyz" in text
    assert SECRET not in text


def test_log_false_logs_nothing_about_the_key(
    redis_db: RedisDB, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="redis_client")
    redis_db.set("quiet:key", {"token": SECRET}, log=False)
    redis_db.setex("quiet:key2", 1, 10, log=False)
    redis_db.delete("quiet:key", log=False)
    assert "quiet:key" not in caplog.text


# -- sets and sorted sets ----------------------------------------------------------------------


def test_sets(redis_db: RedisDB, raw: redis.Redis) -> None:
    for member in ["t1", "t2", "t1", "é漢"]:
        redis_db.add_to_set("user_likes:bob", member)
    assert sorted(redis_db.get_set("user_likes:bob")) == sorted(["t1", "t2", "é漢"])
    assert raw.type("user_likes:bob") == b"set"
    assert raw.smembers("user_likes:bob") == {b"t1", b"t2", "é漢".encode()}
    assert redis_db.get_set("missing") == []


def test_set_written_by_another_service(redis_db: RedisDB, raw: redis.Redis) -> None:
    raw.sadd("gorilla_marketing_answered:bob", "100", "200")
    assert sorted(redis_db.get_set("gorilla_marketing_answered:bob")) == ["100", "200"]


def test_sorted_sets(redis_db: RedisDB, raw: redis.Redis) -> None:
    redis_db.add_to_sorted_set("z", 30, "c")
    redis_db.add_to_sorted_set("z", 10, "a")
    redis_db.add_to_sorted_set("z", 20.5, "b")
    redis_db.add_to_sorted_set("z", 5, "c")  # re-adding moves the member
    assert redis_db.get_sorted_set("z") == ["c", "a", "b"]
    assert redis_db.get_sorted_set("z", 1) == ["a", "b"]
    assert redis_db.get_sorted_set("z", 0, 1) == ["c", "a"]
    assert redis_db.get_sorted_set("z", -1) == ["b"]
    assert raw.zrange("z", 0, -1, withscores=True) == [(b"c", 5.0), (b"a", 10.0), (b"b", 20.5)]
    assert redis_db.get_sorted_set("missing") == []


# -- pattern helpers -----------------------------------------------------------------------------


def test_pattern_helpers_match_hostile_names_literally(
    redis_db: RedisDB, raw: redis.Redis
) -> None:
    names = HOSTILE_USERNAMES + ["gina", "gina2", "g", "x"]
    for name in names:
        raw.set(keys.user_likes(name), "1")
        raw.set(f"other:{name}", "1")
    for name in names:
        pattern = keys.user_likes(keys.escape_glob(name))
        assert redis_db.get_keys_by_pattern(pattern) == [keys.user_likes(name)]
        assert redis_db.get_keys_by_pattern_blocking(pattern) == [keys.user_likes(name)]
    everything = {keys.user_likes(n) for n in names}
    assert set(redis_db.get_keys_by_pattern("user_likes:*")) == everything
    assert set(redis_db.get_keys_by_pattern_blocking("user_likes:*")) == everything
    # An unescaped '*' is a wildcard, as it always was.
    assert set(redis_db.get_keys_by_pattern("user_likes:gi*")) == {
        keys.user_likes(n) for n in names if n.startswith("gi")
    }


def test_scan_pattern_returns_every_key_exactly_once(redis_db: RedisDB, raw: redis.Redis) -> None:
    pipe = raw.pipeline(transaction=False)
    for i in range(3000):
        pipe.set(f"bulk:{i}", i)
    pipe.set("not_bulk", 1)
    pipe.execute()
    found = redis_db.get_keys_by_pattern("bulk:*")
    assert len(found) == 3000
    assert set(found) == {f"bulk:{i}" for i in range(3000)}
    assert len(redis_db.get_keys_by_pattern_blocking("bulk:*")) == 3000
    assert redis_db.get_keys_by_pattern("nothing:*") == []
