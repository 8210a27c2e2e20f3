"""Accounts: twitter data, action times, partnerships, function variables, tweet links, removal."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import pytest
import redis
from conftest import HOSTILE_USERNAMES, AsyncBridge, snapshot, stored_json

from redis_client.aio import AsyncRedisDB
from redis_client.core import keys
from redis_client.core.errors import InvalidUsernameError
from redis_client.db import RedisDB
from redis_client.models import Post, TwitterAccount

#: The original tool's prompt-variable map, as the contract lists it.
CONTRACT_FUNCTION_VARIABLES = {
    "create_comment_to_post": ["twitter_post", "relevant_knowledge"],
    "create_comment_to_comment": ["comment_text", "relevant_knowledge"],
    "create_tweet": ["project_tweets", "my_tweets", "relevant_knowledge"],
    "create_quoted_tweet": ["tweet_for_quote", "my_tweets", "relevant_knowledge"],
    "create_news_tweet": ["news_tweets", "my_tweets", "relevant_knowledge"],
    "check_answer_is_needed": ["twitter_comment"],
    "check_tweet_for_marketing": ["tweet_text", "relevant_knowledge"],
    "create_marketing_comment": ["tweet_text", "relevant_knowledge", "question_prompt"],
}


def auth_service_writes(raw: redis.Redis, username: str, json_string: bool = False) -> None:
    """What the separate auth service stores for an account."""
    data: dict[str | bytes, Any] = {
        "access_token": "enc-ACCESS-SECRET",
        "refresh_token": "enc-REFRESH-SECRET",
        "expires_at": "1700003600",
        "name": f"Name of {username}",
        "username": username,
        "id": "987654321",
    }
    if json_string:
        raw.set(f"twitter_data:{username}", json.dumps(data))
    else:
        raw.hset(f"twitter_data:{username}", mapping=data)


def post(i: int, user: str) -> dict[str, Any]:
    return {"id": f"p{i}", "text": f"post {i}", "sender_username": user, "timestamp": 1000 + i}


# -- twitter data ------------------------------------------------------------------------------


def test_active_accounts_hash_and_json_string(db: Any, raw: redis.Redis) -> None:
    auth_service_writes(raw, "alice")
    auth_service_writes(raw, "old_style", json_string=True)
    raw.set("user_likes:ghost", "x")  # other keys of an account do not make it active
    assert sorted(db.get_active_twitter_accounts()) == ["alice", "old_style"]
    assert sorted(db.get_twitter_data_keys()) == ["twitter_data:alice", "twitter_data:old_style"]
    assert db.is_account_active("alice")
    assert db.is_account_active("old_style")
    assert not db.is_account_active("ghost")


def test_active_accounts_hostile_names_are_full(db: Any, raw: redis.Redis) -> None:
    for name in HOSTILE_USERNAMES:
        auth_service_writes(raw, name)
    assert sorted(db.get_active_twitter_accounts()) == sorted(HOSTILE_USERNAMES)
    assert sorted(db.get_twitter_data_keys()) == sorted(
        f"twitter_data:{n}" for n in HOSTILE_USERNAMES
    )
    for name in HOSTILE_USERNAMES:
        assert db.is_account_active(name)
    # A pattern-like name matches only itself.
    assert not db.is_account_active("a?b")
    assert not db.is_account_active("[a]")


def test_many_accounts_listed_exactly_once(db: Any, raw: redis.Redis) -> None:
    pipe = raw.pipeline(transaction=False)
    for i in range(2500):
        pipe.hset(f"twitter_data:u{i}", "username", f"u{i}")
    pipe.execute()
    accounts = db.get_active_twitter_accounts()
    assert len(accounts) == 2500
    assert set(accounts) == {f"u{i}" for i in range(2500)}


# -- action times ------------------------------------------------------------------------------


def test_action_time_unset_is_zero(db: Any) -> None:
    for action in keys.ACTION_TYPES:
        value = db.get_account_last_action_time("alice", action)
        assert value == 0.0 and isinstance(value, float)


@pytest.mark.parametrize("action", keys.ACTION_TYPES)
def test_action_time_round_trip(db: Any, raw: redis.Redis, action: str) -> None:
    ts = time.time()
    db.update_account_last_action_time("a:b*", action, ts)
    assert db.get_account_last_action_time("a:b*", action) == ts
    assert stored_json(raw, f"{action}:a:b*") == ts
    db.update_account_last_action_time("a:b*", action, 1700000000)
    assert db.get_account_last_action_time("a:b*", action) == 1700000000.0
    assert raw.get(f"{action}:a:b*") == b"1700000000"


def test_action_time_written_by_another_service(db: Any, raw: redis.Redis) -> None:
    raw.set("last_likes_time:bob", "1700000000.25")
    raw.set("last_comment_agix_time:bob", 1700000001)
    assert db.get_account_last_action_time("bob", "last_likes_time") == 1700000000.25
    assert db.get_account_last_action_time("bob", "last_comment_agix_time") == 1700000001.0


@pytest.mark.parametrize("bad", [True, "1700000000", None, math.nan, math.inf, [1]])
def test_action_time_bad_timestamp_writes_nothing(
    db: Any, raw: redis.Redis, bad: Any
) -> None:
    TwitterAccount(username="bob", last_likes_time=1.0).save()
    db.update_account_last_action_time("bob", "last_likes_time", 2.0)
    before = snapshot(raw)
    with pytest.raises((TypeError, ValueError)):
        db.update_account_last_action_time("bob", "last_likes_time", bad)
    assert snapshot(raw) == before
    assert TwitterAccount.get("bob").last_likes_time == 2.0


@pytest.mark.parametrize("action", ["", "a:b", keys.MODEL_NAMESPACE])
def test_action_time_bad_action_type(db: Any, action: str) -> None:
    with pytest.raises(ValueError):
        db.update_account_last_action_time("bob", action, 1.0)
    with pytest.raises(ValueError):
        db.get_account_last_action_time("bob", action)


def test_action_time_updates_existing_account_record(db: Any, raw: redis.Redis) -> None:
    TwitterAccount(username="carol", name="Carol").save()
    db.update_account_last_action_time("carol", "last_likes_time", 1700000000.5)
    db.update_account_last_action_time("carol", "my_custom_action", 1700000100)
    db.update_account_last_action_time("carol", "another_action", 1700000200)
    account = TwitterAccount.get("carol")
    assert account.last_likes_time == 1700000000.5
    assert account.other_action_times == {
        "my_custom_action": 1700000100,
        "another_action": 1700000200,
    }
    assert account.name == "Carol"
    assert db.get_account_last_action_time("carol", "my_custom_action") == 1700000100
    # Queryable through the index.
    found = TwitterAccount.find(
        TwitterAccount.last_likes_time > 1699999999  # type: ignore[operator]
    ).all()
    assert [a.username for a in found] == ["carol"]


def test_action_time_does_not_create_a_record(db: Any, raw: redis.Redis) -> None:
    db.update_account_last_action_time("dave", "last_likes_time", 5.0)
    assert raw.exists(keys.model_key(keys.ACCOUNT_PREFIX, "dave")) == 0
    assert raw.exists("last_likes_time:dave") == 1


# -- partnerships --------------------------------------------------------------------------------


def test_send_partnership(db: Any, raw: redis.Redis) -> None:
    before = time.time()
    db.add_send_partnership("a:b", "1001")
    db.add_send_partnership("a:b", "1002")
    db.add_send_partnership("a:b", "1001")
    after = time.time()
    assert sorted(db.get_send_partnership("a:b")) == ["1001", "1002"]
    assert raw.type("send_partnership:a:b") == b"zset"
    for member, score in raw.zrange("send_partnership:a:b", 0, -1, withscores=True):
        assert member in (b"1001", b"1002")
        assert int(before) <= score <= after
    assert db.get_send_partnership("nobody") == []


def test_send_partnership_order_is_time_added(db: Any, raw: redis.Redis) -> None:
    raw.zadd("send_partnership:bob", {"z-first": 100, "a-second": 200})
    db.add_send_partnership("bob", "m-third")
    assert db.get_send_partnership("bob") == ["z-first", "a-second", "m-third"]


# -- function variables --------------------------------------------------------------------------


def test_function_variables_default_map(db: Any, raw: redis.Redis) -> None:
    mapping = db.get_function_variables()
    assert mapping == CONTRACT_FUNCTION_VARIABLES
    assert stored_json(raw, "function_variables") == CONTRACT_FUNCTION_VARIABLES
    mapping["create_tweet"].append("mutated")
    assert db.get_function_variables() == CONTRACT_FUNCTION_VARIABLES


@pytest.mark.parametrize("facade", ["sync", "async"])
def test_function_variables_registered_by_the_application(
    redis_db: Any, raw: redis.Redis, redis_settings: Any, facade: str
) -> None:
    custom = {"summarize": ["article", "tone"]}
    if facade == "sync":
        db: Any = RedisDB(redis_settings, function_variables=custom)
    else:
        db = AsyncBridge(AsyncRedisDB(redis_settings, function_variables=custom), redis_db)
    assert db.get_function_variables() == custom
    assert stored_json(raw, "function_variables") == custom
    custom["summarize"].append("later")
    assert db.get_function_variables() == {"summarize": ["article", "tone"]}


# -- tweet links ---------------------------------------------------------------------------------


def test_save_tweet_link(db: Any, raw: redis.Redis) -> None:
    db.save_tweet_link("create_tweet", "111")
    db.save_tweet_link("create_tweet", 222)  # type: ignore[arg-type]
    db.save_tweet_link("create_news_tweet", "333")
    assert raw.type("created_tweet:create_tweet") == b"list"
    assert raw.lrange("created_tweet:create_tweet", 0, -1) == [
        b"https://twitter.com/i/web/status/111",
        b"https://twitter.com/i/web/status/222",
    ]
    assert raw.lrange("created_tweet:create_news_tweet", 0, -1) == [
        b"https://twitter.com/i/web/status/333"
    ]


def test_save_tweet_link_keeps_one_entry_per_call_repeats_included(
    db: Any, raw: redis.Redis
) -> None:
    # Agents save the link of the tweet they answered: two answers to one tweet are two entries.
    for _ in range(3):
        db.save_tweet_link("create_tweet", "111")
    db.save_tweet_link("create_tweet", "112")
    db.save_tweet_link("create_tweet", "111")
    assert raw.lrange("created_tweet:create_tweet", 0, -1) == [
        b"https://twitter.com/i/web/status/111",
        b"https://twitter.com/i/web/status/111",
        b"https://twitter.com/i/web/status/111",
        b"https://twitter.com/i/web/status/112",
        b"https://twitter.com/i/web/status/111",
    ]


def test_save_tweet_link_keeps_links_pushed_by_others(db: Any, raw: redis.Redis) -> None:
    raw.rpush("created_tweet:f", "https://twitter.com/i/web/status/1")
    db.save_tweet_link("f", "1")
    db.save_tweet_link("f", "2")
    assert raw.lrange("created_tweet:f", 0, -1) == [
        b"https://twitter.com/i/web/status/1",
        b"https://twitter.com/i/web/status/1",
        b"https://twitter.com/i/web/status/2",
    ]


# -- remove_account ------------------------------------------------------------------------------


def populate(db: Any, raw: redis.Redis, username: str, n: int = 0) -> set[bytes]:
    """Every kind of per-account key for ``username``; returns the legacy keys written."""
    auth_service_writes(raw, username)
    db.add_user_post(username, post(n, username))
    db.add_user_post(username, post(n + 1, username))
    db.add_send_partnership(username, "42")
    db.add_to_set(keys.gorilla_marketing_answered(username), "t1")
    db.add_to_set(keys.user_likes(username), "t2")
    for action in keys.ACTION_TYPES:
        db.update_account_last_action_time(username, action, 1700000000)
    return {k.encode() for k in keys.legacy_account_keys(username)}


def test_remove_account_removes_only_that_account(db: Any, raw: redis.Redis) -> None:
    names = ["gina", "gina2", "gin", "*", "gi?a", "[g]ina", "gina:x", "gina*"]
    written = {name: populate(db, raw, name, i * 10) for i, name in enumerate(names)}
    for name in names:
        TwitterAccount(username=name).save()
    db.save_tweet_link("create_tweet", "1")
    db.set("function_variables", {"x": []})
    before = snapshot(raw)

    deleted = db.remove_account("gina")
    after = snapshot(raw)
    gone = set(before) - set(after)
    gina_records = {
        keys.model_key(keys.ACCOUNT_PREFIX, "gina").encode(),
        keys.model_key(keys.POST_PREFIX, "p0").encode(),
        keys.model_key(keys.POST_PREFIX, "p1").encode(),
    }
    assert gone == written["gina"] | gina_records
    assert deleted == len(gone)
    assert {k: v for k, v in before.items() if k not in gone} == after
    assert not db.is_account_active("gina")
    assert db.get_user_posts("gina") == []
    assert db.is_account_active("gina2")
    assert "gina" not in db.get_active_twitter_accounts()


def test_remove_account_star_touches_only_star(db: Any, raw: redis.Redis) -> None:
    names = ["*", "a", "b*", "\\*", "?"]
    written = {name: populate(db, raw, name, i * 10) for i, name in enumerate(names)}
    for name in names:
        TwitterAccount(username=name).save()
    before = snapshot(raw)
    db.remove_account("*")
    after = snapshot(raw)
    gone = set(before) - set(after)
    star_records = {
        keys.model_key(keys.ACCOUNT_PREFIX, "*").encode(),
        keys.model_key(keys.POST_PREFIX, "p0").encode(),
        keys.model_key(keys.POST_PREFIX, "p1").encode(),
    }
    assert gone == written["*"] | star_records
    assert {k: v for k, v in before.items() if k not in gone} == after
    assert sorted(db.get_active_twitter_accounts()) == sorted(n for n in names if n != "*")


@pytest.mark.parametrize("name", HOSTILE_USERNAMES)
def test_remove_account_hostile_names(db: Any, raw: redis.Redis, name: str) -> None:
    written = populate(db, raw, name)
    populate(db, raw, "bystander", 100)
    TwitterAccount(username=name).save()
    TwitterAccount(username="bystander").save()
    before = snapshot(raw)
    db.remove_account(name)
    after = snapshot(raw)
    assert not db.is_account_active(name)
    assert set(before) - set(after) == written | {
        keys.model_key(keys.ACCOUNT_PREFIX, name).encode(),
        keys.model_key(keys.POST_PREFIX, "p0").encode(),
        keys.model_key(keys.POST_PREFIX, "p1").encode(),
    }
    assert {k: v for k, v in before.items() if k in after} == after
    assert Post.find(Post.accounts == "bystander").count() == 2
    assert not [k for k in after if k.endswith(b":" + name.encode())]


def test_remove_account_keeps_posts_shared_with_others(db: Any, raw: redis.Redis) -> None:
    shared = post(1, "gina")
    db.add_user_post("gina", shared)
    db.add_user_post("gina2", shared)
    db.add_user_post("gina", post(2, "gina"))
    db.add_user_post("gina2", post(3, "gina2"))
    db.remove_account("gina")
    assert Post.get("p1").accounts == ["gina2"]
    assert raw.exists(keys.model_key(keys.POST_PREFIX, "p2")) == 0
    assert Post.get("p3").accounts == ["gina2"]
    assert [p.id for p in db.get_user_posts("gina2")] == ["p1", "p3"]
    assert sorted(p.id for p in Post.find(Post.accounts == "gina2").all()) == ["p1", "p3"]
    assert Post.find(Post.accounts == "gina").count() == 0
    db.remove_account("gina2")
    left = {k for k in raw.scan_iter() if not k.startswith(b"redis_client_om:schema:")}
    assert left == {b"function_variables"}


def test_remove_account_custom_action_types(db: Any, raw: redis.Redis) -> None:
    TwitterAccount(username="hank").save()
    db.update_account_last_action_time("hank", "last_custom_time", 5.0)
    db.update_account_last_action_time("hank2", "last_custom_time", 5.0)
    db.remove_account("hank")
    assert raw.exists("last_custom_time:hank") == 0
    assert raw.exists("last_custom_time:hank2") == 1


def test_remove_account_blank_look_alikes(db: Any, raw: redis.Redis) -> None:
    # The search index trims blanks around tags: " gina " and "gina" look alike to it.
    for i, name in enumerate(["gina", " gina ", "gina "]):
        populate(db, raw, name, i * 10)
        TwitterAccount(username=name).save()
    db.remove_account(" gina ")
    assert [p.id for p in db.get_user_posts("gina")] == ["p0", "p1"]
    assert [p.id for p in db.get_user_posts("gina ")] == ["p20", "p21"]
    assert Post.get("p0").accounts == ["gina"]
    assert Post.get("p20").accounts == ["gina "]
    assert raw.exists(keys.model_key(keys.POST_PREFIX, "p10")) == 0
    assert sorted(db.get_active_twitter_accounts()) == ["gina", "gina "]
    assert raw.exists(keys.model_key(keys.ACCOUNT_PREFIX, "gina")) == 1


def test_remove_account_with_legacy_members_only(db: Any, raw: redis.Redis) -> None:
    raw.zadd("posted_tweets:ivy", {json.dumps({"id": 77, "text": "t", "sender_username": "ivy",
                                               "timestamp": 1}): 1, b"garbage": 2})
    Post(id="77", text="t", sender_username="ivy", timestamp=1, accounts=["ivy"]).save()
    db.remove_account("ivy")
    assert raw.exists("posted_tweets:ivy", keys.model_key(keys.POST_PREFIX, "77")) == 0


def test_remove_missing_account_changes_nothing(db: Any, raw: redis.Redis) -> None:
    populate(db, raw, "jack")
    before = snapshot(raw)
    assert db.remove_account("nobody") == 0
    assert snapshot(raw) == before


@pytest.mark.parametrize("bad", ["", None])
def test_empty_username_is_a_clear_error_everywhere(
    db: Any, raw: redis.Redis, bad: Any
) -> None:
    populate(db, raw, "kate")
    before = snapshot(raw)
    calls = [
        lambda: db.remove_account(bad),
        lambda: db.is_account_active(bad),
        lambda: db.get_account_last_action_time(bad, "last_likes_time"),
        lambda: db.update_account_last_action_time(bad, "last_likes_time", 1.0),
        lambda: db.add_send_partnership(bad, "1"),
        lambda: db.get_send_partnership(bad),
    ]
    for call in calls:
        with pytest.raises(InvalidUsernameError):
            call()
    assert snapshot(raw) == before


def test_remove_account_with_a_broken_account_record(db: Any, raw: redis.Redis) -> None:
    populate(db, raw, "lena")
    populate(db, raw, "lena2", 10)
    raw.set(keys.model_key(keys.ACCOUNT_PREFIX, "lena"), "not a JSON document")
    before = snapshot(raw)
    db.remove_account("lena")
    after = snapshot(raw)
    assert not [k for k in after if k.endswith(b":lena")]
    assert {k: v for k, v in before.items() if k.endswith(b":lena2")} == {
        k: v for k, v in after.items() if k.endswith(b":lena2")
    }
