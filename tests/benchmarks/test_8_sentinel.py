"""Sentinel: a failover as agents see it, what ``REDIS_WAIT_REPLICAS=1`` costs, and Sentinel's
own cost in steady state, each side by side in one run on one master + 2 replicas + 3 sentinels
started by the project's launcher (``down-after-milliseconds`` 2000; every node with AOF
everysec, as the launcher starts them)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from redis_client.core import keys
from redis_client.core.settings import RedisSettings, load_settings
from redis_client.db import RedisDB
from redis_client.embedded_sentinel import EmbeddedSentinelSet
from redis_client.migrate import commands
from redis_client.models import Post

from . import _harness as h

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sentinel_helpers import Writes, member_ids, record_ids, write_loop_async, write_loop_sync  # noqa: E402

pytestmark = pytest.mark.benchmark

SINGLE_PER_ROUND = 300
ROUNDS = 7
MIGRATION_POSTS = 50_000
MIGRATION_ROUNDS = 3


@pytest.fixture
def ha(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedSentinelSet]:
    with EmbeddedSentinelSet(replicas=2, sentinels=3, down_after_ms=2000,
                             data_dir=tmp_path_factory.mktemp("bench-ha")) as ha_set:
        yield ha_set


def _settings(ha: EmbeddedSentinelSet, **extra: Any) -> RedisSettings:
    return load_settings(sentinels=ha.sentinels_setting, startup_wait=30, **extra)


def _client(ha: EmbeddedSentinelSet) -> redis.Redis[bytes]:
    master = ha.master()
    return redis.Redis(master.host, master.port)


@pytest.mark.parametrize("api", ["sync", "async"])
def test_failover_gap_and_lost_writes(ha: EmbeddedSentinelSet, api: str) -> None:
    """SIGKILL of the master under a write loop with ``REDIS_WAIT_REPLICAS=1``: the longest time
    between two acknowledged writes, and acknowledged writes missing afterwards."""
    writes = Writes()
    loop = write_loop_sync if api == "sync" else write_loop_async
    thread = loop(_settings(ha, wait_replicas=1), writes)
    time.sleep(2.0)
    old = ha.kill_master()
    killed = time.monotonic()
    new = ha.wait_for_new_master(old)
    promoted = time.monotonic() - killed
    time.sleep(3.0)
    writes.stop.set()
    thread.join(60)
    client = redis.Redis(new.host, new.port)
    lost = len(writes.ids() - member_ids(client)) + len(writes.ids() - record_ids(client))
    gap = writes.longest_gap()
    target = ha.down_after_ms / 1000 + 5
    h.record(h.Row(
        f"8.1 failover ({api}): longest gap between acknowledged writes", "s", gap,
        target=f"<= {target:g} s, lost = 0", met=gap <= target and lost == 0,
        note=f"{len(writes.acked)} acknowledged, {lost} lost, sentinels promoted after {promoted:.1f} s, "
             f"errors seen by callers: {dict(writes.errors) or 'none'}",
    ))
    assert lost == 0


def test_wait_cost_on_add_user_post_and_sentinel_vs_direct(ha: EmbeddedSentinelSet) -> None:
    """One ``add_user_post`` at a time: ``REDIS_WAIT_REPLICAS=1`` against 0, and through Sentinel
    against a direct connection to the same master (both without WAIT)."""
    master = ha.master()
    dbs = {
        "direct": RedisDB(load_settings(url=master.url)),
        "sentinel": RedisDB(_settings(ha)),
        "wait1": RedisDB(_settings(ha, wait_replicas=1)),
    }
    for db in dbs.values():  # connect, store the prompt map, check the indexes: untimed
        db.get_user_posts("warm-up")
    ts0 = 1_700_000_000

    def variant(name: str) -> Any:
        def run(rnd: int) -> h.Stopwatch:
            user = f"bench_{name}"
            posts = [Post(**f) for f in h.make_posts(user, SINGLE_PER_ROUND, ts0 + rnd * 1000)]
            with h.Stopwatch() as sw:
                for post in posts:
                    dbs[name].add_user_post(user, post)
            return sw
        return run

    out = h.interleaved(ROUNDS, {name: variant(name) for name in dbs})
    per = {name: h.median(h.walls(sws)) / SINGLE_PER_ROUND * 1e6 for name, sws in out.items()}
    ratio_wait = per["wait1"] / per["sentinel"]
    ratio_sentinel = per["sentinel"] / per["direct"]
    h.record(h.Row("8.2 add_user_post, REDIS_WAIT_REPLICAS=1 vs 0 (Sentinel)", "µs/call", per["wait1"],
                   raw=per["sentinel"], note=f"x{ratio_wait:.2f}: one WAIT per write, same round trip; "
                   f"spread {h.spread(out['wait1'])}"))
    h.record(h.Row("8.3 add_user_post through Sentinel vs direct to the master", "µs/call",
                   per["sentinel"], raw=per["direct"], target="<= 1.02x", met=ratio_sentinel <= 1.02,
                   note=f"spread {h.spread(out['sentinel'])} / {h.spread(out['direct'])}"))


def _seed(client: redis.Redis[bytes], total: int) -> None:
    accounts = total // 1000
    commands_ = (
        cmd for a in range(accounts)
        for cmd in h.seed_account_commands(f"bench_ha_{a:04d}", 1000, 1_600_000_000 + a, records=False)
    )
    h.send_commands(client, commands_)


def _drop_records(client: redis.Redis[bytes]) -> None:
    for pattern in (keys.model_pattern(keys.POST_PREFIX), keys.migration_state_pattern("0002_posts")):
        names = list(client.scan_iter(match=pattern, count=5000))
        for i in range(0, len(names), 1000):
            client.unlink(*names[i : i + 1000])


def test_wait_cost_on_the_migration(ha: EmbeddedSentinelSet) -> None:
    """``migrate run`` of the posts (``0002_posts``) with ``REDIS_WAIT_REPLICAS=1`` against 0."""
    client = _client(ha)
    _seed(client, MIGRATION_POSTS)
    settings = {"wait0": _settings(ha), "wait1": _settings(ha, wait_replicas=1)}
    commands.run_step("0001_indexes", settings["wait0"])

    def variant(name: str) -> Any:
        def run(rnd: int) -> h.Stopwatch:
            _drop_records(client)
            with h.Stopwatch() as sw:
                stats = commands.run_step("0002_posts", settings[name], fresh=True)
            assert stats.created == MIGRATION_POSTS
            return sw
        return run

    out = h.interleaved(MIGRATION_ROUNDS, {name: variant(name) for name in settings})
    rate = {name: MIGRATION_POSTS / h.median(h.walls(sws)) for name, sws in out.items()}
    h.record(h.Row("8.4 migrate run (posts), REDIS_WAIT_REPLICAS=1 vs 0", "posts/s", rate["wait1"],
                   raw=rate["wait0"], higher_is_better=True,
                   note=f"{MIGRATION_POSTS:,} posts, one WAIT per batch of 1000"))
