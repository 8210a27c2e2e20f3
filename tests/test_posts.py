"""add_user_post(s) / get_user_posts(_by_create_time): the legacy sorted set and the Post records."""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from conftest import HOSTILE_USERNAMES, run_in_threads, snapshot
from conftest import post_fields as post_dict

from redis_client.core import keys
from redis_client.core.errors import InvalidPostError, InvalidUsernameError, WriteConflictError
from redis_client.models import Post
from redis_client.ops import posts

FIELDS = (
    "id",
    "text",
    "sender_username",
    "timestamp",
    "quoted_tweet_id",
    "is_reply_to",
    "is_news_summary_tweet",
)


def member(**fields: Any) -> bytes:
    """The byte-exact legacy member another service writes and reads."""
    full = {"quoted_tweet_id": None, "is_reply_to": None, "is_news_summary_tweet": False}
    full.update(fields)
    return json.dumps({name: full[name] for name in FIELDS}).encode()


def record(raw: redis.Redis, post_id: str) -> Any:
    """The Post record's JSON as another service reads it (None when missing)."""
    text = raw.execute_command("JSON.GET", keys.model_key(keys.POST_PREFIX, post_id))
    return None if text is None else json.loads(text)



# -- quickstart round trip -------------------------------------------------------------------


def test_quickstart_post_round_trips_through_both_layouts(
    db: Any, raw: redis.Redis
) -> None:
    ts = int(time.time())
    post = Post(id="tw123", text="Hello world!", sender_username="alice", timestamp=ts)
    assert (post.quoted_tweet_id, post.is_reply_to, post.is_news_summary_tweet) == (
        None,
        None,
        False,
    )
    db.add_user_post("alice", post)

    assert raw.type("posted_tweets:alice") == b"zset"
    expected = member(id="tw123", text="Hello world!", sender_username="alice", timestamp=ts)
    assert raw.zrange("posted_tweets:alice", 0, -1, withscores=True) == [(expected, float(ts))]

    assert raw.type(keys.model_key(keys.POST_PREFIX, "tw123")) == b"ReJSON-RL"
    doc = record(raw, "tw123")
    assert doc == {**post.model_dump(exclude={"accounts"}), "accounts": ["alice"]}

    got = db.get_user_posts("alice")
    assert [p.model_dump(exclude={"accounts"}) for p in got] == [
        post.model_dump(exclude={"accounts"})
    ]
    stored = Post.get("tw123")
    assert stored.model_dump(exclude={"accounts"}) == post.model_dump(exclude={"accounts"})
    assert stored.accounts == ["alice"]


def test_all_fields_are_written_in_contract_order(db: Any, raw: redis.Redis) -> None:
    post = Post(
        id="t2",
        text='multi\nline "quote" é漢🙂',
        sender_username="a:b",
        timestamp=1700000123,
        quoted_tweet_id="t0",
        is_reply_to="t1",
        is_news_summary_tweet=True,
    )
    db.add_user_post("a:b", post)
    [(got, score)] = raw.zrange("posted_tweets:a:b", 0, -1, withscores=True)
    assert got == json.dumps({f: getattr(post, f) for f in FIELDS}).encode()
    assert score == 1700000123.0
    assert db.get_user_posts("a:b")[0].model_dump() == post.model_dump(
        exclude={"accounts"}
    ) | {"accounts": []}


@pytest.mark.parametrize("kind", ["post", "dict", "object"])
def test_accepts_post_dict_or_object(db: Any, raw: redis.Redis, kind: str) -> None:
    data = post_dict(1, quoted_tweet_id="q9")
    obj: Any = {
        "post": Post(**data),
        "dict": dict(data),
        "object": SimpleNamespace(**data, unrelated=object()),
    }[kind]
    db.add_user_post("alice", obj)
    assert raw.zrange("posted_tweets:alice", 0, -1) == [member(**data)]
    assert record(raw, "tw1") == {**json.loads(member(**data)), "accounts": ["alice"]}


def test_get_user_posts_oldest_first(db: Any) -> None:
    order = list(range(20))
    random.Random(7).shuffle(order)
    for i in order:
        db.add_user_post("alice", post_dict(i))
    assert [p.id for p in db.get_user_posts("alice")] == [f"tw{i}" for i in range(20)]
    assert db.get_user_posts("nobody") == []


def test_get_user_posts_by_create_time(db: Any) -> None:
    now = int(time.time())
    ages = {"old": 20000, "mid": 5000, "new": 100, "newer": 10}
    for name, age in ages.items():
        db.add_user_post("bob", {"id": name, "text": name, "sender_username": "bob",
                                       "timestamp": now - age})
    assert [p.id for p in db.get_user_posts_by_create_time("bob")] == ["mid", "new", "newer"]
    assert [p.id for p in db.get_user_posts_by_create_time("bob", 1000)] == ["new", "newer"]
    assert [p.id for p in db.get_user_posts_by_create_time("bob", second_ago=30000)] == [
        "old", "mid", "new", "newer"
    ]
    assert db.get_user_posts_by_create_time("nobody") == []


# -- idempotence and shared posts ----------------------------------------------------------------


def test_same_post_added_twice_changes_nothing(db: Any, raw: redis.Redis) -> None:
    db.add_user_post("alice", post_dict(1))
    before = snapshot(raw)
    db.add_user_post("alice", post_dict(1))
    db.add_user_post("alice", Post(**post_dict(1)))
    assert db.add_user_posts("alice", [post_dict(1), post_dict(1)]) == 0
    assert snapshot(raw) == before


def test_same_id_under_two_accounts_is_one_record(db: Any, raw: redis.Redis) -> None:
    db.add_user_post("alice", post_dict(5, "alice"))
    db.add_user_post("bob", post_dict(5, "alice"))
    db.add_user_post("alice", post_dict(5, "alice"))
    assert raw.zcard("posted_tweets:alice") == 1
    assert raw.zcard("posted_tweets:bob") == 1
    assert record(raw, "tw5")["accounts"] == ["alice", "bob"]
    assert len(list(raw.scan_iter(match=keys.model_key(keys.POST_PREFIX, "*")))) == 1


def test_record_saved_by_the_model_gets_the_account(db: Any, raw: redis.Redis) -> None:
    Post(**post_dict(3)).save()
    assert record(raw, "tw3")["accounts"] == []
    db.add_user_post("alice", post_dict(3))
    assert record(raw, "tw3")["accounts"] == ["alice"]


def test_record_without_accounts_field_gets_one(db: Any, raw: redis.Redis) -> None:
    doc = json.loads(member(**post_dict(4)))
    raw.execute_command("JSON.SET", keys.model_key(keys.POST_PREFIX, "tw4"), "$", json.dumps(doc))
    db.add_user_post("alice", post_dict(4))
    assert record(raw, "tw4")["accounts"] == ["alice"]


# -- batches -------------------------------------------------------------------------------------


def test_add_user_posts_many_in_batches(db: Any, raw: redis.Redis) -> None:
    n = posts.BATCH_SIZE * 2 + 37
    data = [post_dict(i) for i in range(n)]
    assert db.add_user_posts("alice", data) == n
    assert raw.zcard("posted_tweets:alice") == n
    assert Post.find(Post.accounts == "alice").count() == n
    assert db.add_user_posts("alice", data[:10] + [post_dict(n)]) == 1
    assert [p.id for p in db.get_user_posts("alice")] == [f"tw{i}" for i in range(n + 1)]
    assert db.add_user_posts("alice", []) == 0
    assert db.add_user_posts("alice", iter([post_dict(n + 1)])) == 1


def test_add_user_posts_validates_all_before_writing(db: Any, raw: redis.Redis) -> None:
    before = snapshot(raw)
    bad = [post_dict(i) for i in range(posts.BATCH_SIZE + 10)] + [post_dict(9999, timestamp="x")]
    with pytest.raises(InvalidPostError, match="timestamp"):
        db.add_user_posts("alice", bad)
    assert snapshot(raw) == before


# -- legacy data written by other services --------------------------------------------------------


def test_legacy_members_are_read_back(db: Any, raw: redis.Redis) -> None:
    legacy = [
        # Missing the optional fields.
        (json.dumps({"id": "m1", "text": "short", "sender_username": "bob", "timestamp": 1}), 1),
        # Extra fields.
        (json.dumps({"id": "m2", "text": "x", "sender_username": "bob", "timestamp": 2,
                     "quoted_tweet_id": None, "is_reply_to": None,
                     "is_news_summary_tweet": True, "lang": "en", "likes": 4}), 2),
        # Numeric ids.
        (json.dumps({"id": 1234567890123456789, "text": "n", "sender_username": "bob",
                     "timestamp": 3, "quoted_tweet_id": 77, "is_reply_to": 78.0}), 3),
        # Fractional timestamp.
        (json.dumps({"id": "m4", "text": "f", "sender_username": "bob",
                     "timestamp": 1700000004.75}), 1700000004.75),
        # Compact separators, other key order.
        ('{"timestamp":1700000005,"sender_username":"bob","text":"c","id":"m5"}', 1700000005),
    ]
    raw.zadd("posted_tweets:bob", {m: s for m, s in legacy})
    got = db.get_user_posts("bob")
    assert [p.id for p in got] == ["m1", "m2", "1234567890123456789", "m4", "m5"]
    assert got[0].quoted_tweet_id is None and got[0].is_news_summary_tweet is False
    assert got[1].is_news_summary_tweet is True
    assert (got[2].quoted_tweet_id, got[2].is_reply_to) == ("77", "78")
    assert got[3].timestamp == 1700000004  # the model keeps whole seconds
    # Reading never rewrites a legacy member.
    assert raw.zrange("posted_tweets:bob", 0, -1, withscores=True) == [
        (m.encode(), float(s)) for m, s in legacy
    ]


def test_fractional_timestamp_member_by_create_time(db: Any, raw: redis.Redis) -> None:
    now = time.time()
    raw.zadd("posted_tweets:bob", {json.dumps({"id": "f", "text": "t", "sender_username": "bob",
                                               "timestamp": now - 60.5}): now - 60.5})
    assert [p.id for p in db.get_user_posts_by_create_time("bob", 3600)] == ["f"]


MALFORMED = [
    b"not json at all SECRET-member-text",
    b"[1, 2, 3]",
    b'"just a string"',
    b"{}",
    json.dumps({"text": "no id", "sender_username": "bob", "timestamp": 1}).encode(),
    json.dumps({"id": None, "text": "null id", "sender_username": "bob", "timestamp": 1}).encode(),
    json.dumps({"id": "", "text": "empty id", "sender_username": "bob", "timestamp": 1}).encode(),
    json.dumps({"id": "x1", "sender_username": "bob", "timestamp": 1}).encode(),
    json.dumps({"id": "x2", "text": "t", "timestamp": 1}).encode(),
    json.dumps({"id": "x3", "text": "t", "sender_username": "bob"}).encode(),
    json.dumps({"id": "x4", "text": "t", "sender_username": "bob", "timestamp": "soon"}).encode(),
    json.dumps({"id": True, "text": "t", "sender_username": "bob", "timestamp": 1}).encode(),
    json.dumps({"id": "x5", "text": "t", "sender_username": "bob", "timestamp": True}).encode(),
    b'{"id": "x6", "text": "t", "sender_username": "bob", "timestamp": NaN}',
    b"\xff\xfe invalid utf-8",
]


def test_malformed_members_are_skipped_with_a_warning(
    db: Any, raw: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    good = [member(**post_dict(i, "bob")) for i in range(3)]
    now = time.time()
    raw.zadd("posted_tweets:bob", {good[0]: now - 30, good[1]: now - 20, good[2]: now - 10})
    raw.zadd("posted_tweets:bob", {m: now - 25 + i * 0.001 for i, m in enumerate(MALFORMED)})
    caplog.set_level(logging.WARNING, logger="redis_client")

    got = db.get_user_posts("bob")
    assert [p.id for p in got] == ["tw0", "tw1", "tw2"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == len(MALFORMED)
    assert all("posted_tweets:bob" in r.getMessage() for r in warnings)
    assert "SECRET-member-text" not in caplog.text

    caplog.clear()
    recent = db.get_user_posts_by_create_time("bob", 3600)
    assert [p.id for p in recent] == ["tw0", "tw1", "tw2"]
    assert len(caplog.records) == len(MALFORMED)


def test_only_malformed_members(db: Any, raw: redis.Redis, caplog) -> None:
    raw.zadd("posted_tweets:bob", {b"{": 1})
    with caplog.at_level(logging.WARNING, logger="redis_client"):
        assert db.get_user_posts("bob") == []
    assert len(caplog.records) == 1


# -- hostile usernames ---------------------------------------------------------------------------


def test_hostile_usernames(db: Any, raw: redis.Redis) -> None:
    for i, name in enumerate(HOSTILE_USERNAMES):
        db.add_user_post(name, post_dict(i, name))
    for i, name in enumerate(HOSTILE_USERNAMES):
        assert raw.zrange(f"posted_tweets:{name}".encode(), 0, -1) == [member(**post_dict(i, name))]
        assert [p.id for p in db.get_user_posts(name)] == [f"tw{i}"]
        assert record(raw, f"tw{i}")["accounts"] == [name]
    assert len(list(raw.scan_iter(match="posted_tweets:*"))) == len(HOSTILE_USERNAMES)


@pytest.mark.parametrize("username", ["", None, 5])
def test_bad_username_is_a_clear_error(db: Any, raw: redis.Redis, username) -> None:
    before = snapshot(raw)
    with pytest.raises(InvalidUsernameError):
        db.add_user_post(username, post_dict(1))
    with pytest.raises(InvalidUsernameError):
        db.add_user_posts(username, [])
    with pytest.raises(InvalidUsernameError):
        db.get_user_posts(username)
    with pytest.raises(InvalidUsernameError):
        db.get_user_posts_by_create_time(username)
    assert snapshot(raw) == before


# -- atomicity: validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": ""}, "id"),
        ({"id": None}, "id"),
        ({"id": True}, "id"),
        ({"id": [1]}, "id"),
        ({"text": None}, "text"),
        ({"text": 123}, "text"),
        ({"sender_username": ""}, "sender_username"),
        ({"sender_username": None}, "sender_username"),
        ({"timestamp": math.nan}, "timestamp"),
        ({"timestamp": math.inf}, "timestamp"),
        ({"timestamp": True}, "timestamp"),
        ({"timestamp": "soon"}, "timestamp"),
        ({"timestamp": -5}, "timestamp"),
        ({"timestamp": None}, "timestamp"),
        ({"is_news_summary_tweet": "maybe"}, "is_news_summary_tweet"),
        ({"quoted_tweet_id": True}, "quoted_tweet_id"),
        ({"is_reply_to": {"x": 1}}, "is_reply_to"),
    ],
)
def test_invalid_post_writes_nothing(
    db: Any, raw: redis.Redis, change: dict[str, Any], field: str
) -> None:
    db.add_user_post("alice", post_dict(0))
    before = snapshot(raw)
    secret_text = "SECRET-post-text-6d1"
    bad = post_dict(1, text=secret_text) | change
    with pytest.raises(InvalidPostError) as info:
        db.add_user_post("alice", bad)
    assert field in str(info.value)
    assert secret_text not in str(info.value)
    assert snapshot(raw) == before


@pytest.mark.parametrize("bad", [None, 42, "a string", {"id": "only"}, SimpleNamespace(id="x")])
def test_not_a_post_writes_nothing(db: Any, raw: redis.Redis, bad: Any) -> None:
    db.add_user_post("alice", post_dict(0))
    before = snapshot(raw)
    with pytest.raises(InvalidPostError):
        db.add_user_post("alice", bad)
    assert snapshot(raw) == before


# -- atomicity: server-side failures ---------------------------------------------------------------


def test_posted_tweets_key_of_wrong_type_leaves_both_layouts(
    db: Any, raw: redis.Redis
) -> None:
    raw.set("posted_tweets:carol", "a plain string")
    before = snapshot(raw)
    with pytest.raises(WriteConflictError, match="posted_tweets:carol"):
        db.add_user_post("carol", post_dict(1, "carol"))
    with pytest.raises(WriteConflictError):
        db.add_user_posts("carol", [post_dict(i, "carol") for i in range(3)])
    assert snapshot(raw) == before
    assert record(raw, "tw1") is None


@pytest.mark.parametrize("kind", ["string", "hash", "list"])
def test_record_key_of_wrong_type_leaves_both_layouts(
    db: Any, raw: redis.Redis, kind: str
) -> None:
    db.add_user_post("dave", post_dict(0, "dave"))
    record_key = keys.model_key(keys.POST_PREFIX, "tw2")
    if kind == "string":
        raw.set(record_key, "not json")
    elif kind == "hash":
        raw.hset(record_key, "id", "tw2")
    else:
        raw.rpush(record_key, "x")
    before = snapshot(raw)
    with pytest.raises(WriteConflictError, match="tw2"):
        db.add_user_post("dave", post_dict(2, "dave"))
    # In a batch, the posts before and after the bad one are not written either.
    with pytest.raises(WriteConflictError):
        db.add_user_posts("dave", [post_dict(i, "dave") for i in range(1, 5)])
    assert snapshot(raw) == before


# -- threads -------------------------------------------------------------------------------------


def test_threads_exact_counts(db: Any, raw: redis.Redis) -> None:
    n_threads, n_writes = 8, 150
    barrier = threading.Barrier(n_threads)

    def worker(t: int) -> None:
        barrier.wait()
        for i in range(n_writes):
            # Two threads per account; every post id is also added under a shared account.
            own = f"user{t % 4}"
            data = post_dict(t * 1000 + i, own)
            db.add_user_post(own, data)
            db.add_user_post("shared:all", data)

    assert run_in_threads(n_threads, worker) == []
    for a in range(4):
        assert raw.zcard(f"posted_tweets:user{a}") == 2 * n_writes
        assert len(db.get_user_posts(f"user{a}")) == 2 * n_writes
    assert raw.zcard("posted_tweets:shared:all") == n_threads * n_writes
    assert Post.find().count() == n_threads * n_writes
    assert Post.find(Post.accounts == "shared:all").count() == n_threads * n_writes
    sample = record(raw, "tw3007")
    assert sample is not None and sample["accounts"] == ["user3", "shared:all"]


def test_threads_adding_the_same_posts_to_different_accounts(
    db: Any, raw: redis.Redis
) -> None:
    n_threads, n_posts = 8, 150
    barrier = threading.Barrier(n_threads)

    def worker(t: int) -> None:
        barrier.wait()
        for i in range(n_posts):
            db.add_user_post(f"acc{t}", post_dict(i, "origin"))

    assert run_in_threads(n_threads, worker) == []
    assert Post.find().count() == n_posts
    for i in range(n_posts):
        accounts = record(raw, f"tw{i}")["accounts"]
        assert sorted(accounts) == [f"acc{t}" for t in range(n_threads)]
    for t in range(n_threads):
        assert raw.zcard(f"posted_tweets:acc{t}") == n_posts


def test_malformed_members_never_combine_into_posts(
    db: Any, raw: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    # Each is broken on its own; joined with ',' they would read as two valid objects.
    first = b'{"id": "1", "text": "t", "sender_username": "u", "timestamp": 1}, {"id": "2"'
    second = b'"text": "t", "sender_username": "u", "timestamp": 2}'
    raw.zadd("posted_tweets:u", {first: 1, second: 2})
    with caplog.at_level(logging.WARNING, logger="redis_client"):
        assert db.get_user_posts("u") == []
    assert len(caplog.records) == 2
    good = member(**post_dict(3, "u"))
    raw.zadd("posted_tweets:u", {good: 3})
    assert [p.id for p in db.get_user_posts("u")] == ["tw3"]
