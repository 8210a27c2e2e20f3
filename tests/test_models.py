"""Post / TwitterAccount models: records, queries, and their indexes (created, rebuilt, shared)."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from typing import Any

import pytest
import redis
from conftest import HOSTILE_USERNAMES, run_in_threads, stored
from conftest import post_fields as post
from pydantic import ValidationError

from redis_client import translate
from redis_client.core import keys
from redis_client.core.settings import RedisSettings
from redis_client.db import RedisDB
from redis_client.models import Post, TwitterAccount, binding
from redis_client.models.account import SECRET_FIELDS

POST_INDEX = Post._meta.index_name
ACCOUNT_INDEX = TwitterAccount._meta.index_name



def index_names(raw: redis.Redis) -> set[str]:
    return {n.decode() for n in raw.execute_command("FT._LIST")}


def run_threads(n: int, target: Any) -> list[BaseException]:
    """``target(t)`` on ``n`` threads released together."""
    barrier = threading.Barrier(n)

    def together(t: int) -> None:
        barrier.wait()
        target(t)

    return run_in_threads(n, together)


# -- the models themselves -------------------------------------------------------------------


def test_post_construction_and_defaults() -> None:
    p = Post(id="tw123", text="Hello world!", sender_username="alice", timestamp=1700000000)
    assert (p.quoted_tweet_id, p.is_reply_to, p.is_news_summary_tweet, p.accounts) == (
        None,
        None,
        False,
        [],
    )
    assert Post._meta.primary_key.name == "id"
    assert Post(id=5, text="t", sender_username="a", timestamp=1.9).id == "5"
    assert Post(id="5", text="t", sender_username="a", timestamp=1.9).timestamp == 1


@pytest.mark.parametrize(
    "change",
    [{"id": ""}, {"timestamp": math.nan}, {"timestamp": True}, {"timestamp": -1},
     {"sender_username": ""}, {"text": None}, {"id": False}],
)
def test_post_validation(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Post(**(post(1) | change))


def test_post_save_get_round_trip(redis_db: RedisDB, raw: redis.Redis) -> None:
    p = Post(**post(1, quoted_tweet_id="q", is_news_summary_tweet=True), accounts=["alice"])
    p.save()
    key = keys.model_key(keys.POST_PREFIX, "tw1")
    assert raw.type(key) == b"ReJSON-RL"
    doc = json.loads(raw.execute_command("JSON.GET", key))
    assert doc == p.model_dump()
    assert "pk" not in doc
    assert Post.get("tw1") == p


def test_record_key_namespace(redis_db: RedisDB, raw: redis.Redis) -> None:
    redis_db.add_user_post("alice", post(1))
    TwitterAccount(username="alice").save()
    model_keys = {k.decode() for k in raw.scan_iter(match=keys.MODEL_NAMESPACE + ":*")}
    assert keys.model_key(keys.POST_PREFIX, "tw1") in model_keys
    assert keys.model_key(keys.ACCOUNT_PREFIX, "alice") in model_keys
    legacy = {k.decode() for k in raw.scan_iter()} - model_keys
    assert legacy == {"posted_tweets:alice", "function_variables"}


def test_twitter_account_round_trip(redis_db: RedisDB, raw: redis.Redis) -> None:
    account = TwitterAccount(username="a:b*", name="A B", twitter_id=123, expires_at=1.5,
                             last_likes_time=10.0, other_action_times={"x": 1.0})
    account.save()
    assert account.twitter_id == "123"
    assert TwitterAccount.get("a:b*") == account
    assert raw.type(keys.model_key(keys.ACCOUNT_PREFIX, "a:b*")) == b"ReJSON-RL"


def test_twitter_account_never_holds_tokens(redis_db: RedisDB, raw: redis.Redis) -> None:
    assert not SECRET_FIELDS & set(TwitterAccount.model_fields)
    data: dict[str | bytes, Any] = {
        "access_token": "ACCESS-SECRET",
        "refresh_token": "REFRESH-SECRET",
        "auth_token": "AUTH-SECRET",
        "csrf_token": "CSRF-SECRET",
        "guest_id": "GUEST-SECRET",
        "name": "Bob",
        "id": "42",
        "expires_at": "1700003600",
        "username": "bob",
    }
    raw.hset("twitter_data:bob", mapping=data)
    fields = translate.twitter_data_fields(raw.hgetall("twitter_data:bob"))
    account = translate.account_record("bob", fields, {"last_likes_time": 5.0, "custom": 6.0})
    account.save()
    assert (account.name, account.twitter_id, account.expires_at) == ("Bob", "42", 1700003600.0)
    assert account.last_likes_time == 5.0 and account.other_action_times == {"custom": 6.0}
    doc_text = raw.execute_command("JSON.GET", keys.model_key(keys.ACCOUNT_PREFIX, "bob")).decode()
    for secret in ("ACCESS", "REFRESH", "AUTH-", "CSRF", "GUEST"):
        assert secret not in doc_text
        assert secret not in repr(account)
    # Even passed directly, token fields are dropped.
    direct = TwitterAccount(username="x", access_token="ACCESS-SECRET")  # type: ignore[call-arg]
    assert "ACCESS-SECRET" not in direct.model_dump_json()
    # The older JSON-string form is read too.
    assert translate.twitter_data_fields(json.dumps(data))["name"] == "Bob"


# -- indexes -------------------------------------------------------------------------------------


def test_first_model_operation_on_a_fresh_server_creates_indexes(
    redis_db: RedisDB, raw: redis.Redis
) -> None:
    assert index_names(raw) == set()
    assert Post.find(Post.sender_username == "alice").all() == []
    assert index_names(raw) == {POST_INDEX, ACCOUNT_INDEX}
    for model in (Post, TwitterAccount):
        stored_hash = stored(raw, keys.schema_hash_key(model._meta.index_name)).decode()
        assert stored_hash == model.index_spec().schema_hash()


def test_first_classic_write_creates_indexes(redis_db: RedisDB, raw: redis.Redis) -> None:
    assert index_names(raw) == set()
    redis_db.add_user_post("alice", post(1))
    assert index_names(raw) == {POST_INDEX, ACCOUNT_INDEX}
    assert [p.id for p in Post.find(Post.accounts == "alice").all()] == ["tw1"]


def test_index_flushed_while_running_is_recreated(redis_db: RedisDB, raw: redis.Redis) -> None:
    redis_db.add_user_post("alice", post(1))
    assert Post.find().count() == 1
    raw.flushall()  # another service, or a server restarted without its data
    assert Post.find().count() == 0
    redis_db.add_user_post("alice", post(2))
    assert [p.id for p in Post.find(Post.sender_username == "alice").all()] == ["tw2"]
    assert redis_db.remove_account("alice") >= 1


def test_index_dropped_is_rebuilt_with_existing_records(
    redis_db: RedisDB, raw: redis.Redis
) -> None:
    redis_db.add_user_posts("alice", [post(i) for i in range(50)])
    raw.execute_command("FT.DROPINDEX", POST_INDEX)  # keeps the documents
    assert Post.find(Post.sender_username == "alice").count() == 50
    binding.forget()  # a new process starting on this server
    raw.execute_command("FT.DROPINDEX", POST_INDEX)
    assert Post.find(Post.accounts == "alice").count() == 50
    assert POST_INDEX in index_names(raw)


def test_schema_change_is_detected_and_rebuilt(
    redis_db: RedisDB, raw: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    redis_db.add_user_posts("alice", [post(i) for i in range(30)])
    # An older deployment's index: fewer fields, and its own schema hash.
    raw.execute_command("FT.DROPINDEX", POST_INDEX)
    raw.execute_command(
        "FT.CREATE", POST_INDEX, "ON", "JSON", "PREFIX", "1", f"{keys.MODEL_NAMESPACE}:post:",
        "SCHEMA", "$.id", "AS", "id", "TAG",
    )
    raw.set(keys.schema_hash_key(POST_INDEX), "hash-of-an-older-schema")
    binding.forget()  # the next process (or deployment) starts

    caplog.set_level(logging.INFO)
    found = Post.find(Post.sender_username == "alice").sort_by("-timestamp").all()
    assert [p.id for p in found] == [f"tw{i}" for i in reversed(range(30))]
    assert stored(raw, keys.schema_hash_key(POST_INDEX)).decode() == Post.index_spec().schema_hash()
    assert "rebuilding" in caplog.text
    info = raw.execute_command("FT.INFO", POST_INDEX)
    assert b"sender_username" in repr(info).encode()


def test_stored_schema_hash_mismatch_rebuilds(
    redis_db: RedisDB, raw: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    redis_db.add_user_posts("alice", [post(i) for i in range(20)])
    TwitterAccount(username="alice").save()
    raw.set(keys.schema_hash_key(POST_INDEX), "0" * 40)
    binding.forget()
    caplog.set_level(logging.INFO)
    assert Post.find(Post.accounts == "alice").count() == 20
    assert stored(raw, keys.schema_hash_key(POST_INDEX)).decode() == Post.index_spec().schema_hash()
    rebuilt = [r.getMessage() for r in caplog.records if "rebuilding" in r.getMessage()]
    assert len(rebuilt) == 1 and POST_INDEX in rebuilt[0]  # the account index was left alone
    assert [a.username for a in TwitterAccount.find().all()] == ["alice"]


def test_unchanged_schema_is_not_rebuilt(redis_db: RedisDB, raw: redis.Redis, caplog) -> None:
    redis_db.add_user_post("alice", post(1))
    binding.forget()
    caplog.set_level(logging.INFO)
    assert Post.find().count() == 1
    assert "rebuilding" not in caplog.text
    assert "created index" not in caplog.text


def test_concurrent_first_use_from_threads(
    redis_db: RedisDB, raw: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    def first_use(t: int) -> None:
        if t % 2:
            Post.find(Post.sender_username == "nobody").all()
        else:
            redis_db.add_user_post(f"user{t}", post(t, f"user{t}"))

    assert run_threads(8, first_use) == []
    assert index_names(raw) == {POST_INDEX, ACCOUNT_INDEX}
    created = [r for r in caplog.records if "created index" in r.getMessage()]
    assert len(created) == 2
    assert Post.find().count() == 4


# -- find queries --------------------------------------------------------------------------------


def test_find_sorted(redis_db: RedisDB) -> None:
    for i in (3, 1, 2):
        redis_db.add_user_post("alice", post(i))
    redis_db.add_user_post("bob", post(9, "bob"))
    found = Post.find(Post.sender_username == "alice").sort_by("-timestamp").all()
    assert [p.id for p in found] == ["tw3", "tw2", "tw1"]
    assert [p.accounts for p in found] == [["alice"]] * 3
    found = Post.find(Post.sender_username == "alice").sort_by("timestamp").all()
    assert [p.id for p in found] == ["tw1", "tw2", "tw3"]
    assert Post.find(Post.timestamp >= 1700000002).count() == 3
    assert Post.find((Post.timestamp < 1700000003) & (Post.sender_username == "alice")).count() == 2


def test_find_other_fields(redis_db: RedisDB) -> None:
    redis_db.add_user_post("a", post(1, is_news_summary_tweet=True, quoted_tweet_id="q:1"))
    redis_db.add_user_post("a", post(2, is_reply_to="r*1"))
    redis_db.add_user_post("a", post(3))
    assert [p.id for p in Post.find(Post.is_news_summary_tweet == True).all()] == ["tw1"]  # noqa: E712
    assert [p.id for p in Post.find(Post.quoted_tweet_id == "q:1").all()] == ["tw1"]
    assert [p.id for p in Post.find(Post.is_reply_to == "r*1").all()] == ["tw2"]
    assert Post.find(Post.is_reply_to == "r").count() == 0
    in_query = Post.sender_username << ["alice", "x"]  # type: ignore[operator]
    assert sorted(p.id for p in Post.find(in_query).all()) == ["tw1", "tw2", "tw3"]


def test_find_sees_every_post_added_through_the_db(redis_db: RedisDB, raw: redis.Redis) -> None:
    now = int(time.time())
    redis_db.add_user_post("alice", Post(id="tw123", text="Hello world!",
                                         sender_username="alice", timestamp=now))
    found = Post.find(Post.sender_username == "alice").sort_by("-timestamp").all()
    assert [(p.id, p.text, p.timestamp, p.accounts) for p in found] == [
        ("tw123", "Hello world!", now, ["alice"])
    ]
    assert Post.find(Post.text % "hello").count() == 1


def test_find_sees_posts_from_8_threads(redis_db: RedisDB) -> None:
    per_thread = 150

    def write(t: int) -> None:
        for i in range(per_thread):
            redis_db.add_user_post(f"u{t}", post(t * 1000 + i, f"u{t}"))

    assert run_threads(8, write) == []
    assert Post.find().count() == 8 * per_thread
    for t in range(8):
        ids = [p.id for p in Post.find(Post.sender_username == f"u{t}").sort_by("timestamp").all()]
        assert ids == [f"tw{t * 1000 + i}" for i in range(per_thread)]
    assert len(Post.find().all()) == 8 * per_thread  # pages past the 1000 default


def test_hostile_sender_matches_only_itself(redis_db: RedisDB) -> None:
    names = ["a* | @text:x", "a", "x", "a*", "a* ", "@text:x", "a* | @text:y", "text", "a |"]
    for i, name in enumerate(names):
        redis_db.add_user_post(name, post(i, name, text=f"x text {name}"))
    found = Post.find(Post.sender_username == "a* | @text:x").all()
    assert [p.id for p in found] == ["tw0"]
    found = Post.find(Post.accounts == "a* | @text:x").all()
    assert [p.id for p in found] == ["tw0"]


def test_find_by_many_hostile_values(redis_db: RedisDB) -> None:
    names = HOSTILE_USERNAMES + ["gina", "gina2", "a", "b", "alice", "text"]
    for i, name in enumerate(names):
        redis_db.add_user_post(name, post(i, name))
    for i, name in enumerate(names):
        assert [p.id for p in Post.find(Post.sender_username == name).all()] == [f"tw{i}"], name
        assert [p.id for p in Post.find(Post.accounts == name).all()] == [f"tw{i}"], name
        assert Post.find(Post.sender_username != name).count() == len(names) - 1, name
    picked = ["*", "(a|b)", "a:b"]
    in_query = Post.sender_username << picked  # type: ignore[operator]
    found = sorted(p.sender_username for p in Post.find(in_query).all())
    assert found == sorted(picked)


def test_full_text_operators_match_literally(redis_db: RedisDB) -> None:
    texts = {
        "t1": "hello world",
        "t2": "hello there",
        "t3": "foo bar",
        "t4": "bar only",
        "t5": "helicopter",
        "t6": "@sender_username:{alice} rocks",
    }
    for pid, text in texts.items():
        redis_db.add_user_post("alice", {"id": pid, "text": text, "sender_username": "alice",
                                         "timestamp": 1})

    def ids(query: str) -> list[str]:
        return sorted(p.id for p in Post.find(Post.text % query).all())

    assert ids("hello") == ["t1", "t2"]
    assert ids("hello -world") == ["t1"]  # '-' is not negation
    assert ids("foo | bar") == ["t3"]  # '|' is not OR
    assert ids("hel*") == []  # '*' is not a prefix wildcard
    assert ids("@sender_username:{alice}") == ["t6"]  # not a field query
    assert ids('"world hello"') == ["t1"]  # quotes are not an exact phrase
    assert ids("(foo") == ["t3"]
    assert ids("~hello") == ["t1", "t2"]  # '~' is not optional-term syntax
    assert Post.find(Post.text % "-+|*()") .all() == []


def test_find_blank_tag_is_a_clear_error(redis_db: RedisDB) -> None:
    with pytest.raises(ValueError, match="blank"):
        Post.find(Post.sender_username == "   ").all()


def test_account_queries(redis_db: RedisDB) -> None:
    for i, name in enumerate(["gina", "gina2", "*", "a:b"]):
        TwitterAccount(username=name, name=f"N {name}", last_likes_time=float(i)).save()
    assert [a.username for a in TwitterAccount.find(TwitterAccount.username == "*").all()] == ["*"]
    found = TwitterAccount.find(
        TwitterAccount.last_likes_time >= 1  # type: ignore[operator]
    ).sort_by("last_likes_time")
    assert [a.username for a in found.all()] == ["gina2", "*", "a:b"]


def test_find_unicode_tag_values(redis_db: RedisDB) -> None:
    names = ["é漢字🙂", "🙂", "a🙂", "é", "漢字", "naïve", "x™", "€", "a—b", "a\u00a0b", "ｆｕｌｌ",
             "ÉCOLE", "école", "ß", "ss"]
    for i, name in enumerate(names):
        redis_db.add_user_post(name, post(i, name))
    for i, name in enumerate(names):
        assert [p.id for p in Post.find(Post.sender_username == name).all()] == [f"tw{i}"], name
        assert [p.id for p in Post.find(Post.accounts == name).all()] == [f"tw{i}"], name


# -- what the Post index holds (memory: only what documented queries use) -------------------------


def test_post_index_holds_only_the_queried_fields(redis_db: RedisDB, raw: redis.Redis) -> None:
    redis_db.add_user_post("alice", post(1))
    info = raw.execute_command("FT.INFO", POST_INDEX)  # RESP3-style map on this server
    names = {attr[b"attribute"] for attr in info[b"attributes"]}
    assert names == {b"sender_username", b"timestamp", b"accounts", b"quoted_tweet_id",
                     b"is_reply_to", b"is_news_summary_tweet", b"text_fts"}
    with pytest.raises(ValueError, match="Post.id is not indexed"):
        Post.find(Post.id == "tw1").all()
    assert Post.get("tw1").id == "tw1"  # read by key, no index needed
    # Equality on the text: the phrase in the word index, then the exact text only.
    assert [p.id for p in Post.find(Post.text == "text 1").all()] == ["tw1"]
    assert Post.find(Post.text == "text").all() == []


def test_full_text_search_off_drops_the_text_field_and_refuses_word_queries(
    redis_db: RedisDB, raw: redis.Redis, redis_settings: RedisSettings
) -> None:
    redis_db.add_user_posts("alice", [post(i) for i in range(5)])
    assert Post.find(Post.text % "text").count() == 5
    redis_db.reconfigure(redis_settings.model_copy(update={"full_text_search": False}))
    try:
        assert Post.find(Post.sender_username == "alice").count() == 5  # rebuilt, records kept
        info = repr(raw.execute_command("FT.INFO", POST_INDEX))
        assert "text_fts" not in info and "sender_username" in info
        with pytest.raises(ValueError, match="REDIS_FULL_TEXT_SEARCH"):
            Post.find(Post.text % "text").all()
    finally:
        redis_db.reconfigure(redis_settings)
    assert Post.find(Post.text % "text").count() == 5  # on again: rebuilt with the words


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"offset": 5, "limit": 7, "page_size": 3}, {"sort_fields": ["-timestamp"], "nocontent": True},
     {"projected_fields": ["id", "text"], "return_as_dict": True}],
)
def test_safe_query_is_built_like_redis_oms_own(redis_db: RedisDB, kwargs: dict[str, Any]) -> None:
    """SafeFindQuery copies FindQuery.__init__ less its blocking module check: same state."""
    from redis_om.model.model import FindQuery

    from redis_client.models.query import SafeFindQuery

    expressions = [Post.sender_username == "alice"]
    ours = vars(SafeFindQuery(expressions=expressions, model=Post, **kwargs))
    theirs = vars(FindQuery(expressions=expressions, model=Post, **kwargs))
    assert ours == theirs
