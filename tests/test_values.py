"""JSON values, sets, sorted sets and the pattern helpers of RedisDB, on a real server."""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import pytest
import redis
from conftest import HOSTILE_USERNAMES, stored_json

from redis_client.core import keys
from redis_client.core.errors import InvalidValueError, StoredValueError

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
def test_set_get_round_trip_stores_json_text(db: Any, raw: redis.Redis, value) -> None:
    db.set("user:1001", value)
    assert db.get("user:1001") == value
    assert type(db.get("user:1001")) is type(value)
    # Another service reads plain JSON text.
    assert stored_json(raw, "user:1001") == value
    assert raw.type("user:1001") == b"string"


def test_get_missing_key(db: Any) -> None:
    assert db.get("missing") is None
    marker = object()
    assert db.get("missing", marker) is marker
    assert db.get("missing", default=[]) == []


def test_get_value_written_by_another_service(db: Any, raw: redis.Redis) -> None:
    raw.set("cfg", json.dumps({"limit": 5}))
    raw.set("count", "12")
    raw.set("ratio", b"0.5")
    assert db.get("cfg") == {"limit": 5}
    assert db.get("count") == 12
    assert db.get("ratio") == 0.5


def test_empty_stored_string_reads_as_missing(db: Any, raw: redis.Redis) -> None:
    raw.set("blank", b"")
    assert db.get("blank") is None
    assert db.get("blank", "fallback") == "fallback"


def test_set_none_deletes(db: Any, raw: redis.Redis) -> None:
    db.set("k", {"a": 1})
    db.set("k", None)
    assert raw.exists("k") == 0
    db.setex("k2", [1], 100)
    db.setex("k2", None, 100)
    assert raw.exists("k2") == 0


def test_setex_sets_value_and_ttl(db: Any, raw: redis.Redis) -> None:
    db.setex("session:abc", {"token": SECRET}, 120)
    assert db.get("session:abc") == {"token": SECRET}
    assert 0 < raw.ttl("session:abc") <= 120


def test_set_keep_ttl(db: Any, raw: redis.Redis) -> None:
    db.setex("k", 1, 300)
    db.set("k", 2, keep_ttl=True)
    assert db.get("k") == 2
    assert 0 < raw.ttl("k") <= 300
    db.set("k", 3)
    assert db.get("k") == 3
    assert raw.ttl("k") == -1  # a plain set clears the TTL, as SET does


def test_set_default(db: Any, raw: redis.Redis) -> None:
    db.set_default("d", {"v": 1})
    assert db.get("d") == {"v": 1}
    db.set_default("d", {"v": 2})
    assert db.get("d") == {"v": 1}
    db.set("e", "")
    db.set_default("e", "filled")
    assert db.get("e") == "filled"
    raw.set("blank", b"")
    db.set_default("blank", "filled")
    assert db.get("blank") == "filled"
    db.set_default("f", None)
    db.set_default("g", "")
    assert raw.exists("f", "g") == 0


def test_delete_and_item_access(db: Any, raw: redis.Redis) -> None:
    db["item"] = {"x": [1, 2]}
    assert db["item"] == {"x": [1, 2]}
    assert stored_json(raw, "item") == {"x": [1, 2]}
    del db["item"]
    assert raw.exists("item") == 0
    assert db["item"] is None
    db.set("other", 1)
    db.delete("other")
    db.delete("never-existed")
    assert raw.exists("other") == 0


def test_parse_list(db: Any) -> None:
    db.set("json_list", ["a", "b", 3])
    db.set("csv", "a,b,c")
    db.set("dash", "-")
    db.set("empty", "")
    db.set("obj", {"a": 1})
    assert db.parse_list("json_list") == ["a", "b", 3]
    assert db.parse_list("csv") == ["a", "b", "c"]
    assert db.parse_list("dash") == []
    assert db.parse_list("empty") == []
    assert db.parse_list("missing") == []
    with pytest.raises(ValueError, match="obj"):
        db.parse_list("obj")


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [{"token": {SECRET}}, object(), {"x": math.nan, "token": SECRET}, [math.inf], b"bytes"],
)
def test_unencodable_value_is_refused_and_nothing_written(
    db: Any, raw: redis.Redis, bad
) -> None:
    with pytest.raises(InvalidValueError) as info:
        db.set("session:new", bad)
    assert "session:new" in str(info.value)
    assert SECRET not in str(info.value)
    assert raw.exists("session:new") == 0
    with pytest.raises(InvalidValueError, match="session:ex"):
        db.setex("session:ex", bad, 60)
    assert raw.exists("session:ex") == 0
    with pytest.raises(InvalidValueError):
        db["session:item"] = bad
    assert raw.exists("session:item") == 0


def test_unencodable_value_keeps_the_previous_one(db: Any, raw: redis.Redis) -> None:
    db.setex("kept", {"v": 1}, 500)
    with pytest.raises(InvalidValueError):
        db.set("kept", {1, 2})
    assert db.get("kept") == {"v": 1}
    assert raw.ttl("kept") > 0


@pytest.mark.parametrize("stored", [b"not json " + SECRET.encode(), b"{'a': 1}", b"\xff\xfe\x00"])
def test_stored_non_json_value_raises_naming_the_key(
    db: Any, raw: redis.Redis, stored: bytes
) -> None:
    raw.set("legacy:blob", stored)
    with pytest.raises(StoredValueError) as info:
        db.get("legacy:blob")
    assert "legacy:blob" in str(info.value)
    assert SECRET not in str(info.value)
    with pytest.raises(StoredValueError):
        db["legacy:blob"]
    with pytest.raises(StoredValueError):
        db.parse_list("legacy:blob")
    assert raw.get("legacy:blob") == stored  # reading never rewrites


# -- logs ----------------------------------------------------------------------------------------


def test_logs_name_the_key_never_the_value(
    db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    db.set("twitter_session:alice", {"token": SECRET})
    db.setex("session:xyz", {"token": SECRET}, 60)
    db["item:secret"] = SECRET
    db.set_default("default:secret", SECRET)
    assert db.get("twitter_session:alice") == {"token": SECRET}
    db.delete("session:xyz")
    db.set("twitter_session:alice", None)
    db.add_user_post("alice", {"id": "1", "text": SECRET, "sender_username": "alice",
                                     "timestamp": 1700000000})
    db.get_user_posts("alice")
    db.remove_account("alice")
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "twitter_session:alice" in text
    assert "session:xyz" in text
    assert SECRET not in text


def test_log_false_logs_nothing_about_the_key(
    db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="redis_client")
    db.set("quiet:key", {"token": SECRET}, log=False)
    db.setex("quiet:key2", 1, 10, log=False)
    db.delete("quiet:key", log=False)
    assert "quiet:key" not in caplog.text


# -- sets and sorted sets ----------------------------------------------------------------------


def test_sets(db: Any, raw: redis.Redis) -> None:
    for member in ["t1", "t2", "t1", "é漢"]:
        db.add_to_set("user_likes:bob", member)
    assert sorted(db.get_set("user_likes:bob")) == sorted(["t1", "t2", "é漢"])
    assert raw.type("user_likes:bob") == b"set"
    assert raw.smembers("user_likes:bob") == {b"t1", b"t2", "é漢".encode()}
    assert db.get_set("missing") == []


def test_set_written_by_another_service(db: Any, raw: redis.Redis) -> None:
    raw.sadd("gorilla_marketing_answered:bob", "100", "200")
    assert sorted(db.get_set("gorilla_marketing_answered:bob")) == ["100", "200"]


def test_sorted_sets(db: Any, raw: redis.Redis) -> None:
    db.add_to_sorted_set("z", 30, "c")
    db.add_to_sorted_set("z", 10, "a")
    db.add_to_sorted_set("z", 20.5, "b")
    db.add_to_sorted_set("z", 5, "c")  # re-adding moves the member
    assert db.get_sorted_set("z") == ["c", "a", "b"]
    assert db.get_sorted_set("z", 1) == ["a", "b"]
    assert db.get_sorted_set("z", 0, 1) == ["c", "a"]
    assert db.get_sorted_set("z", -1) == ["b"]
    assert raw.zrange("z", 0, -1, withscores=True) == [(b"c", 5.0), (b"a", 10.0), (b"b", 20.5)]
    assert db.get_sorted_set("missing") == []


# -- pattern helpers -----------------------------------------------------------------------------


def test_pattern_helpers_match_hostile_names_literally(
    db: Any, raw: redis.Redis
) -> None:
    names = HOSTILE_USERNAMES + ["gina", "gina2", "g", "x"]
    for name in names:
        raw.set(keys.user_likes(name), "1")
        raw.set(f"other:{name}", "1")
    for name in names:
        pattern = keys.user_likes(keys.escape_glob(name))
        assert db.get_keys_by_pattern(pattern) == [keys.user_likes(name)]
        assert db.get_keys_by_pattern_blocking(pattern) == [keys.user_likes(name)]
    everything = {keys.user_likes(n) for n in names}
    assert set(db.get_keys_by_pattern("user_likes:*")) == everything
    assert set(db.get_keys_by_pattern_blocking("user_likes:*")) == everything
    # An unescaped '*' is a wildcard, as it always was.
    assert set(db.get_keys_by_pattern("user_likes:gi*")) == {
        keys.user_likes(n) for n in names if n.startswith("gi")
    }


def test_scan_pattern_returns_every_key_exactly_once(db: Any, raw: redis.Redis) -> None:
    pipe = raw.pipeline(transaction=False)
    for i in range(3000):
        pipe.set(f"bulk:{i}", i)
    pipe.set("not_bulk", 1)
    pipe.execute()
    found = db.get_keys_by_pattern("bulk:*")
    assert len(found) == 3000
    assert set(found) == {f"bulk:{i}" for i in range(3000)}
    assert len(db.get_keys_by_pattern_blocking("bulk:*")) == 3000
    assert db.get_keys_by_pattern("nothing:*") == []
