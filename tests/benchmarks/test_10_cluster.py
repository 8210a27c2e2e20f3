"""Redis Cluster against one server, side by side in one run: queries, writes, the migration and
memory per post, on a 3-primary cluster and one server started by the project's launchers
(every node with AOF everysec, as they start them; no replicas, so no node's CPU goes to one).

On a 2-core machine the three primaries and the client share the cores that one server and the
client share in the one-server runs: a cluster's throughput here is bounded by that, not by the
shards (see docs/cluster.md, "Performance").
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.cluster

from redis_client import models
from redis_client.core import keys
from redis_client.core.settings import load_settings
from redis_client.db import RedisDB
from redis_client.embedded import EmbeddedRedis
from redis_client.embedded_cluster import EmbeddedCluster
from redis_client.migrate import commands
from redis_client.models import Post

from . import _harness as h

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

pytestmark = pytest.mark.benchmark

#: Posts behind the query rows (accounts of 1,000 posts each).
QUERY_POSTS = 300_000
BULK = 30_000
SINGLE = 300
ROUNDS = 5
MIGRATION_POSTS = 100_000


@pytest.fixture(scope="module")
def sides(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``{"one": RedisDB on one server, "cluster": RedisDB on a 3-primary cluster}`` and their nodes."""
    server = EmbeddedRedis(data_dir=tmp_path_factory.mktemp("bench-one")).start()
    cluster = EmbeddedCluster(3, 0, data_dir=tmp_path_factory.mktemp("bench-cluster")).start()
    try:
        yield {
            "one": RedisDB(load_settings(url=server.url, startup_wait=30)),
            "cluster": RedisDB(load_settings(url=cluster.url, cluster=True, startup_wait=30)),
            "servers": {"one": [server], "cluster": cluster.primaries()},
        }
    finally:
        cluster.stop()
        server.stop()


def _flush(db: RedisDB) -> None:
    client: Any = db.r
    if isinstance(client, redis.cluster.RedisCluster):
        client.flushall(target_nodes=redis.cluster.RedisCluster.PRIMARIES)
    else:
        client.flushall()
    db.connector.forget_indexes()
    assert db.capabilities.models


class ServersCPU:
    """CPU seconds the given server processes spent (user + system), summed, while in the block."""

    def __init__(self, servers: list[EmbeddedRedis]) -> None:
        import psutil

        self.procs = [psutil.Process(node.pid) for node in servers]
        self.seconds = 0.0

    def _now(self) -> float:
        return sum(p.cpu_times().user + p.cpu_times().system for p in self.procs)

    def __enter__(self) -> ServersCPU:
        self._t0 = self._now()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds += self._now() - self._t0


def _used_memory(servers: list[EmbeddedRedis]) -> int:
    total = 0
    for node in servers:
        client = redis.Redis(node.host, node.port)
        client.execute_command("MEMORY", "PURGE")
        total += int(client.info("memory")["used_memory"])
        client.close()
    return total


def _seed(db: RedisDB, total: int, prefix: str) -> None:
    for a in range(total // 1000):
        user = f"{prefix}{a:04d}"
        db.add_user_posts(user, h.make_posts(user, 1000, 1_600_000_000 + a * 1000))


def test_memory_and_bulk_writes_then_newest_100(sides: dict[str, Any]) -> None:
    """10.1 memory per post; 10.2 ``add_user_posts`` of 300k (1,000 per account); 10.3 the
    newest 100 posts of all (``Post.find().sort_by('-timestamp').page(0, 100)``)."""
    per_post: dict[str, float] = {}
    rate: dict[str, float] = {}
    query: dict[str, float] = {}
    cpu: dict[str, tuple[float, float]] = {}
    for side in ("one", "cluster"):
        db = sides[side]
        _flush(db)
        before = _used_memory(sides["servers"][side])
        with h.Stopwatch() as sw, ServersCPU(sides["servers"][side]) as servers_cpu:
            _seed(db, QUERY_POSTS, "bench_q")
        rate[side] = QUERY_POSTS / sw.elapsed
        cpu[side] = (sw.cpu / QUERY_POSTS * 1e6, servers_cpu.seconds / QUERY_POSTS * 1e6)
        per_post[side] = (_used_memory(sides["servers"][side]) - before) / QUERY_POSTS
    for side in ("one", "cluster"):  # queries interleaved below, after both are seeded
        models.bind(sides[side])
        assert len(Post.find().sort_by("-timestamp").page(offset=0, limit=100)) == 100

    def variant(side: str) -> Any:
        def run(rnd: int) -> h.Stopwatch:
            models.bind(sides[side])
            with h.Stopwatch() as sw:
                for _ in range(20):
                    Post.find().sort_by("-timestamp").page(offset=0, limit=100)
            return sw
        return run

    out = h.interleaved(ROUNDS, {side: variant(side) for side in ("one", "cluster")})
    models.bind(None)
    for side, sws in out.items():
        query[side] = h.median(h.walls(sws)) / 20 * 1e3
    h.record(h.Row("10.1 memory per post (legacy member + record + index), cluster vs one server",
                   "B/post", per_post["cluster"], raw=per_post["one"], target="<= 1.05x",
                   met=per_post["cluster"] <= 1.05 * per_post["one"], note=f"{QUERY_POSTS:,} posts"))
    h.record(h.Row("10.2 add_user_posts, 1,000 per account, cluster vs one server", "posts/s",
                   rate["cluster"], raw=rate["one"], higher_is_better=True, target=">= 0.9x",
                   met=rate["cluster"] >= 0.9 * rate["one"],
                   note=f"{QUERY_POSTS:,} posts; CPU per post (client, servers): cluster "
                        f"{cpu['cluster'][0]:.0f} + {cpu['cluster'][1]:.0f} µs, one server "
                        f"{cpu['one'][0]:.0f} + {cpu['one'][1]:.0f} µs"))
    h.record(h.Row("10.3 Post.find newest 100 of 300k, cluster (3 shards merged) vs one server", "ms",
                   query["cluster"], raw=query["one"], target="<= 1.5x",
                   met=query["cluster"] <= 1.5 * query["one"],
                   note=f"spread {h.spread(out['cluster'])} / {h.spread(out['one'])}"))


def test_single_writes_and_a_bulk_of_30k(sides: dict[str, Any]) -> None:
    """10.4 one ``add_user_post`` at a time; 10.5 ``add_user_posts`` of 30k for one account."""
    for side in ("one", "cluster"):
        _flush(sides[side])

    def single(side: str) -> Any:
        def run(rnd: int) -> h.Stopwatch:
            user = f"bench_single_{side}"
            posts = [Post(**f) for f in h.make_posts(user, SINGLE, 1_700_000_000 + rnd * SINGLE)]
            with h.Stopwatch() as sw:
                for post in posts:
                    sides[side].add_user_post(user, post)
            return sw
        return run

    def bulk(side: str) -> Any:
        def run(rnd: int) -> h.Stopwatch:
            user = f"bench_bulk_{side}_{rnd}"
            posts = h.make_posts(user, BULK, 1_650_000_000)
            with h.Stopwatch() as sw:
                sides[side].add_user_posts(user, posts)
            return sw
        return run

    ones = h.interleaved(ROUNDS, {side: single(side) for side in ("one", "cluster")})
    per = {side: h.median(h.walls(sws)) / SINGLE * 1e6 for side, sws in ones.items()}
    h.record(h.Row("10.4 add_user_post, cluster vs one server", "µs/call", per["cluster"], raw=per["one"],
                   target="throughput >= 0.9x", met=per["cluster"] <= per["one"] / 0.9,
                   note="on a cluster: the member, then the record (two round trips)"))
    bulks = h.interleaved(3, {side: bulk(side) for side in ("one", "cluster")})
    rate = {side: BULK / h.median(h.walls(sws)) for side, sws in bulks.items()}
    h.record(h.Row("10.5 add_user_posts 30k (one account), cluster vs one server", "posts/s",
                   rate["cluster"], raw=rate["one"], higher_is_better=True, target=">= 0.9x",
                   met=rate["cluster"] >= 0.9 * rate["one"]))


def _seed_legacy(db: RedisDB, total: int) -> None:
    client: Any = db.r
    for a in range(total // 1000):
        user = f"bench_legacy_{a:04d}"
        members = {json.dumps(f): f["timestamp"] for f in h.make_posts(user, 1000, 1_600_000_000 + a)}
        client.zadd(keys.posted_tweets(user), {h.member_of(json.loads(m)): s for m, s in members.items()})


def test_the_migration(sides: dict[str, Any]) -> None:
    """10.6 ``migrate run`` of the posts (``0002_posts``) of 100k legacy members."""
    rate: dict[str, float] = {}
    cpu: dict[str, tuple[float, float]] = {}
    for side in ("one", "cluster"):
        db = sides[side]
        _flush(db)
        _seed_legacy(db, MIGRATION_POSTS)
        commands.run_step("0001_indexes", db.settings)
        with h.Stopwatch() as sw, ServersCPU(sides["servers"][side]) as servers_cpu:
            stats = commands.run_step("0002_posts", db.settings, fresh=True)
        assert stats.created == MIGRATION_POSTS
        rate[side] = MIGRATION_POSTS / sw.elapsed
        cpu[side] = (sw.cpu / MIGRATION_POSTS * 1e6, servers_cpu.seconds / MIGRATION_POSTS * 1e6)
    h.record(h.Row("10.6 migrate run (posts) of 100k, cluster vs one server", "posts/s", rate["cluster"],
                   raw=rate["one"], higher_is_better=True, target=">= 0.9x",
                   met=rate["cluster"] >= 0.9 * rate["one"],
                   note=f"CPU per post (client, servers): cluster {cpu['cluster'][0]:.0f} + "
                        f"{cpu['cluster'][1]:.0f} µs, one server {cpu['one'][0]:.0f} + "
                        f"{cpu['one'][1]:.0f} µs"))
