"""Redis Cluster: every classic method and the model queries give what one server gives.

Runs on a real 3-primary cluster with a replica each, started by the project's launcher
(``redis_client.embedded_cluster``); the same agent work runs on the session's one server, and
the two are compared: return values, the legacy keys' bytes, the records, query results.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import legacy_data
import pytest
import redis
import redis.cluster
from cluster_helpers import USERS, agent_work, flush, legacy_dump, post, records
from conftest import AsyncBridge
from redis_om import NotFoundError

from redis_client import models
from redis_client.aio import AsyncRedisDB
from redis_client.core import slots
from redis_client.core.errors import QueryValueError
from redis_client.core.settings import RedisSettings, load_settings
from redis_client.db import RedisDB
from redis_client.embedded_cluster import EmbeddedCluster
from redis_client.migrate import commands
from redis_client.models import Post, TwitterAccount


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    with EmbeddedCluster(3, 1, data_dir=tmp_path_factory.mktemp("cluster")) as nodes:
        yield nodes


@pytest.fixture
def cluster_settings(cluster: EmbeddedCluster) -> RedisSettings:
    return load_settings(url=cluster.url, cluster=True, startup_wait=20)


@pytest.fixture(params=["sync", "async"])
def cluster_db(request: pytest.FixtureRequest, cluster_settings: RedisSettings) -> Iterator[Any]:
    """A db of either facade on the flushed cluster, the models bound to it."""
    sync_db = RedisDB(cluster_settings)
    flush(sync_db.r)
    if request.param == "sync":
        db: Any = sync_db
    else:
        db = AsyncBridge(AsyncRedisDB(cluster_settings), sync_db)
    models.bind(sync_db)
    try:
        yield db
    finally:
        models.bind(None)
        if isinstance(db, AsyncBridge):
            db.close()


def _on(db: Any) -> Any:
    return lambda name, *args: getattr(db, name)(*args)


def test_the_cluster_has_three_primaries_with_a_replica_each(cluster: EmbeddedCluster) -> None:
    primaries = cluster.primaries()
    assert len(primaries) == 3
    assert all(len(cluster.replicas_of(p)) == 1 for p in primaries)


def test_every_classic_method_gives_what_one_server_gives(redis_db: RedisDB, cluster_db: Any) -> None:
    on_one = agent_work(_on(redis_db))
    one_legacy, one_records = legacy_dump(redis_db.r), records(redis_db.r)
    models.bind(redis_db)
    one_found = sorted((p.id, sorted(p.accounts)) for p in Post.find().all())
    on_cluster = agent_work(_on(cluster_db))
    assert on_cluster == on_one
    assert legacy_dump(cluster_db.r) == one_legacy, "legacy keys hold the same bytes"
    assert records(cluster_db.r) == one_records
    models.bind(cluster_db.settings)
    assert sorted((p.id, sorted(p.accounts)) for p in Post.find().all()) == one_found


def test_the_data_is_spread_over_every_primary(cluster: EmbeddedCluster, cluster_db: Any) -> None:
    agent_work(_on(cluster_db))
    for primary in cluster.primaries():
        client = redis.Redis(primary.host, primary.port)
        assert client.dbsize() > 0
        assert client.keys(b"redis_client_om:post:tw*"), "records on every primary"


def test_pattern_methods_cover_every_primary(cluster_db: Any) -> None:
    for i in range(30):
        cluster_db.r.hset(f"twitter_data:user{i}", "name", f"n{i}")
    expected = sorted(f"user{i}" for i in range(30))
    assert sorted(cluster_db.get_active_twitter_accounts()) == expected
    assert sorted(cluster_db.get_twitter_data_keys()) == sorted(f"twitter_data:{u}" for u in expected)
    assert len(cluster_db.get_keys_by_pattern("twitter_data:*")) == 30
    assert len(cluster_db.get_keys_by_pattern_blocking("twitter_data:*")) == 30


def test_queries_merge_every_primary_in_order(cluster_db: Any) -> None:
    for n, user in enumerate(USERS):
        cluster_db.add_user_posts(user, [post(100 * n + i, user) for i in range(25)])
    every = Post.find().sort_by("-timestamp").all()
    assert len(every) == 25 * len(USERS) == Post.find().count()
    stamps = [p.timestamp for p in every]
    assert stamps == sorted(stamps, reverse=True)
    page = Post.find().sort_by("-timestamp").page(offset=30, limit=20)
    assert [p.id for p in page] == [p.id for p in every[30:50]]
    assert Post.find().sort_by("timestamp").first().id == every[-1].id
    bob = Post.find(Post.sender_username == "bob").sort_by("timestamp").all()
    assert [p.id for p in bob] == [f"tw{100 + i}" for i in range(25)]
    assert Post.find(Post.accounts == "{carol}").count() == 25
    assert {p.id for p in Post.find(Post.text % "words").all()} == {p.id for p in every}
    assert Post.get("tw105").sender_username == "bob"


def test_async_queries_merge_every_primary(cluster_settings: RedisSettings, cluster_db: Any) -> None:
    cluster_db.add_user_posts("alice", [post(i, "alice") for i in range(40)])

    async def main() -> tuple[list[str], int, str]:
        async with AsyncRedisDB(cluster_settings) as adb:
            models.bind(adb)
            newest = await Post.find(Post.accounts == "alice").sort_by("-timestamp").apage(offset=0, limit=5)
            count = await Post.find().acount()
            one = await Post.aget("tw7")
            return [p.id for p in newest], count, one.id

    ids, count, one = asyncio.run(main())
    assert ids == ["tw39", "tw38", "tw37", "tw36", "tw35"] and count == 40 and one == "tw7"


def test_remove_account_touches_nothing_of_other_accounts(cluster_db: Any) -> None:
    for user in ("alice", "bob", "{alice}"):
        cluster_db.add_user_posts(user, [post(i, user) for i in range(10)])
        cluster_db.r.hset(f"twitter_data:{user}", "name", user)
        cluster_db.update_account_last_action_time(user, "last_likes_time", 5.0)
    before = {k: v for k, v in legacy_dump(cluster_db.r).items() if b"alice" not in k or b"{alice}" in k}
    cluster_db.remove_account("alice")
    after = legacy_dump(cluster_db.r)
    assert not any(k.endswith(b":alice") for k in after)
    assert {k: v for k, v in after.items() if b"{alice}" in k or b"bob" in k} == {
        k: v for k, v in before.items() if b"{alice}" in k or b"bob" in k
    }
    assert all("alice" not in p.accounts for p in Post.find().all())
    assert sorted(p.accounts for p in Post.find(Post.accounts == "bob").all())[0] == ["bob", "{alice}"]


def test_a_tweet_link_and_its_retry_token_share_a_slot(cluster_db: Any) -> None:
    cluster_db.save_tweet_link("create_{tweet}", "42")
    tokens = list(cluster_db.r.scan_iter(match=b"redis_client_om:call:*", count=1000))
    assert len(tokens) == 1
    assert slots.slot_of(tokens[0]) == slots.slot_of("created_tweet:create_{tweet}")
    assert cluster_db.r.lrange("created_tweet:create_{tweet}", 0, -1) == [b"https://twitter.com/i/web/status/42"]


def test_accounts_and_their_records_on_a_cluster(cluster_db: Any) -> None:
    cluster_db.r.hset("twitter_data:alice", mapping={"name": "Alice", "username": "alice", "id": "7"})
    assert cluster_db.is_account_active("alice")
    cluster_db.update_account_last_action_time("alice", "last_create_post_time", 99.0)
    assert cluster_db.get_account_last_action_time("alice", "last_create_post_time") == 99.0
    with pytest.raises(NotFoundError):  # no record until the migration or the follower writes it
        TwitterAccount.get("alice")


def test_a_projection_is_refused_with_a_clear_error(cluster_db: Any) -> None:
    cluster_db.add_user_post("alice", post(1, "alice"))
    with pytest.raises(QueryValueError, match="projection"):
        Post.find().only("id").all()


def test_the_migration_covers_every_primary(cluster_db: Any, cluster_settings: RedisSettings) -> None:
    client = redis.cluster.RedisCluster.from_url(cluster_settings.url or "")
    seeded = legacy_data.seed(client, posts=3000, accounts=30)
    before = legacy_dump(client)
    result = commands.run(cluster_settings)
    assert result.failed is None and result.applied == legacy_data.ALL_MIGRATIONS
    assert commands.verify(cluster_settings).ok
    legacy_data.assert_posts_exact(client, seeded)
    assert set(legacy_data.account_records(client)) == seeded.valid_accounts
    assert legacy_dump(client) == before, "no legacy key was modified"
    again = commands.run(cluster_settings)
    assert again.applied == [] and legacy_dump(client) == before
    models.bind(RedisDB(cluster_settings))
    assert Post.find().count() == len(seeded.post_accounts)


def test_pacing_on_a_cluster_keeps_its_reservation_in_the_posts_slot(cluster_db: Any) -> None:
    user = "{pa}cer"
    cluster_db.add_user_post(user, post(1, user))
    with RedisDB(cluster_db.settings).posting_slot(user, 0.0):
        pass
    reservations = list(cluster_db.r.scan_iter(match=b"redis_client_om:posting:*", count=1000))
    assert len(reservations) == 1
    assert slots.slot_of(reservations[0]) == slots.slot_of(f"posted_tweets:{user}")
