"""Redis Cluster under change: a primary killed, slots moved, while agents write.

Each test has its own 3-primary cluster with a replica each (``redis_client.embedded_cluster``),
a write loop of ``add_user_post`` (``REDIS_WAIT_REPLICAS=1``), and checks afterwards that every
acknowledged write is there, member and record, and that queries see every record.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import legacy_data
import pytest
import redis.cluster
from sentinel_helpers import USER, Writes, write_loop_async, write_loop_sync

from redis_client import models
from redis_client.core.settings import RedisSettings, load_settings
from redis_client.db import RedisDB
from redis_client.embedded_cluster import EmbeddedCluster
from redis_client.models import Post


@pytest.fixture
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    with EmbeddedCluster(3, 1, data_dir=tmp_path_factory.mktemp("cluster")) as nodes:
        yield nodes


def _settings(cluster: EmbeddedCluster) -> RedisSettings:
    return load_settings(url=cluster.url, cluster=True, startup_wait=30, wait_replicas=1)


def _check_everything_acknowledged_is_there(cluster: EmbeddedCluster, writes: Writes) -> None:
    client = redis.cluster.RedisCluster.from_url(cluster.url)
    members = {m.decode() for m in client.zrange(f"posted_tweets:{USER}", 0, -1)}
    member_ids = {m.split('"id": "', 1)[1].split('"', 1)[0] for m in members}
    record_keys = {k.decode() for k in client.scan_iter(match=b"redis_client_om:post:w*", count=1000)}
    record_ids = {k.rsplit(":", 1)[1] for k in record_keys}
    assert writes.ids() - member_ids == set(), "every acknowledged member is there"
    assert writes.ids() - record_ids == set(), "every acknowledged record is there"
    db = RedisDB(_settings(cluster))
    models.bind(db)
    try:
        found = {p.id for p in Post.find(Post.accounts == USER).all()}
        assert found == record_ids, "the queries see every record, on every primary"
        assert Post.find(Post.accounts == USER).count() == len(record_ids)
    finally:
        models.bind(None)


@pytest.mark.parametrize("loop", [write_loop_sync, write_loop_async], ids=["sync", "async"])
def test_a_killed_primary_is_followed_and_nothing_acknowledged_is_lost(
    cluster: EmbeddedCluster, loop: object
) -> None:
    writes = Writes()
    thread = loop(_settings(cluster), writes)  # type: ignore[operator]
    time.sleep(1.5)
    victim = cluster.node_for_slot(cluster_slot_of_user())
    victim.kill()
    killed = time.monotonic()
    cluster.wait_for_promotion(victim)
    # The promoted replica has no replica of its own until the old primary is back (as systemd
    # would restart it): until then REDIS_WAIT_REPLICAS=1 refuses to acknowledge its writes.
    victim.start()
    cluster.wait_ok()
    time.sleep(2.0)
    writes.stop.set()
    thread.join(60)
    assert writes.acked_after(killed) > 0, "writes resumed on the promoted replica"
    assert set(writes.errors) <= {"ReplicationTimeoutError"}, writes.errors
    _check_everything_acknowledged_is_there(cluster, writes)


def test_slots_moved_while_agents_write(cluster: EmbeddedCluster) -> None:
    writes = Writes()
    thread = write_loop_sync(_settings(cluster), writes)
    time.sleep(1.0)
    source = cluster.node_for_slot(0)
    target = next(p for p in cluster.primaries() if p.port != source.port)
    moved = cluster.move_slots(range(0, 400), target)
    time.sleep(1.0)
    writes.stop.set()
    thread.join(60)
    assert moved > 0, "the moved slots held keys of the write loop"
    assert writes.errors == {}, writes.errors
    cluster.wait_ok()
    _check_everything_acknowledged_is_there(cluster, writes)


def cluster_slot_of_user() -> int:
    from redis_client.core import keys, slots

    return slots.slot_of(keys.posted_tweets(USER))


def test_a_migration_while_slots_move_misses_nothing(cluster: EmbeddedCluster) -> None:
    client = redis.cluster.RedisCluster.from_url(cluster.url)
    seeded = legacy_data.seed(client, posts=20_000, accounts=20)
    env = {**os.environ, "REDIS_CLUSTER": "true", "REDIS_URL": cluster.url, "REDIS_STARTUP_WAIT": "30"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "redis_client", "migrate", "run", "--batch-size", "200"],
        cwd=legacy_data.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if sum(1 for _ in client.scan_iter(match=b"redis_client_om:post:*", count=5000)) > 1000:
            break
        time.sleep(0.05)
    source = cluster.node_for_slot(0)
    target = next(p for p in cluster.primaries() if p.port != source.port)
    cluster.move_slots(range(0, 1500), target)
    _, err = proc.communicate(timeout=180)
    if proc.returncode != 0:  # cut by the move: the next run finishes it
        again = legacy_data.run_cli("run", env=env)
        assert again.returncode == 0, again.stderr
    cluster.wait_ok()
    legacy_data.assert_posts_exact(client, seeded)
    assert legacy_data.run_cli("verify", env=env).returncode == 0, err
