"""The posts migration partitioned over Ray equals the single-process run."""

from __future__ import annotations

import legacy_data
import pytest
import redis
from legacy_data import Seeded, account_records, assert_posts_exact, post_records, run_cli

from redis_client.core.settings import RedisSettings
from redis_client.migrate import commands
from redis_client.migrate.context import Partition

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray

seeded = legacy_data.seeded  # the fixture


def test_partitions_cover_every_key_exactly_once(
    raw: redis.Redis, seeded: Seeded, redis_settings: RedisSettings
) -> None:
    """Partition i of 3 takes the keys with crc32(key) % 3 == i, and only those."""
    import zlib

    all_keys = set(raw.scan_iter(match="posted_tweets:*", count=1000))
    parts = [{k for k in all_keys if Partition(i, 3).holds(k)} for i in range(3)]
    assert sum(len(p) for p in parts) == len(all_keys) and set().union(*parts) == all_keys
    assert all(zlib.crc32(k) % 3 == i for i, part in enumerate(parts) for k in part)
    stats = [commands.run_step("0002_posts", redis_settings, partition=Partition(i, 3)) for i in range(3)]
    assert [s.keys for s in stats] == [len(p) for p in parts]
    assert sum(s.items for s in stats) == seeded.valid_posts


def test_ray_run_equals_single_process_run(raw: redis.Redis, seeded: Seeded) -> None:
    single = run_cli("run")
    assert single.returncode == 0, single.stderr
    posts_single, accounts_single = post_records(raw), account_records(raw)
    assert run_cli("verify").returncode == 0

    assert run_cli("rollback", "--yes").returncode == 0
    assert post_records(raw) == {}

    on_ray = run_cli("run", "--ray", "--workers", "3", timeout=300)
    assert on_ray.returncode == 0, on_ray.stderr
    assert "partitioned over 3 Ray workers" in on_ray.stdout
    assert_posts_exact(raw, seeded)
    assert {k: sorted(v) for k, v in post_records(raw).items()} == {
        k: sorted(v) for k, v in posts_single.items()
    }
    assert account_records(raw) == accounts_single
    verify = run_cli("verify")
    assert verify.returncode == 0, verify.stdout
