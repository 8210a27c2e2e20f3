"""``migrate rollback``: removes the migration's records and state, and nothing else."""

from __future__ import annotations

import legacy_data
import redis
from legacy_data import (
    Seeded,
    account_records,
    applied,
    post_records,
    run_cli,
    snapshot,
)

from redis_client.core import keys
from redis_client.core.settings import RedisSettings
from redis_client.migrate import commands
from redis_client.migrate.context import Partition

seeded = legacy_data.seeded  # the fixture


def test_rollback_of_the_posts_migration_only(raw: redis.Redis, seeded: Seeded) -> None:
    assert run_cli("run").returncode == 0
    before = snapshot(raw, legacy_only=False)
    proc = run_cli("rollback", "0002_posts")
    assert proc.returncode == 0, proc.stderr
    assert "rolled back: 0002_posts" in proc.stdout
    after = snapshot(raw, legacy_only=False)
    post_prefix = (keys.MODEL_NAMESPACE + ":" + keys.POST_PREFIX + ":").encode()
    state = keys.migration_state("0002_posts:").encode()
    removed = before.keys() - after.keys()
    assert removed and all(k.startswith((post_prefix, state)) for k in removed)
    assert len([k for k in removed if k.startswith(post_prefix)]) == len(seeded.post_ids)
    kept = {k: v for k, v in before.items() if k not in removed and k != b"redis_om:applied_migrations"}
    assert {k: after[k] for k in kept} == kept  # nothing else changed
    assert applied(raw) == {"0001_indexes", "0003_accounts"}
    assert post_records(raw) == {} and len(account_records(raw)) == len(seeded.valid_accounts)

    assert run_cli("run").returncode == 0  # the legacy keys restore the records
    assert len(post_records(raw)) == len(seeded.post_ids)


def test_a_dependency_cannot_go_first(raw: redis.Redis, seeded: Seeded) -> None:
    assert run_cli("run").returncode == 0
    proc = run_cli("rollback", "0001_indexes")
    assert proc.returncode == 2
    assert "0002_posts" in proc.stderr and "roll that back first" in proc.stderr
    assert applied(raw) == {"0001_indexes", "0002_posts", "0003_accounts"}
    unknown = run_cli("rollback", "0099_nope")
    assert unknown.returncode == 2 and "unknown migration" in unknown.stderr


def test_an_interrupted_partition_is_rolled_back(
    raw: redis.Redis, seeded: Seeded, redis_settings: RedisSettings
) -> None:
    """A run that never completed (here: one partition of the keys) leaves records and state;
    rollback removes them although the migration is not marked applied."""
    stats = commands.run_step("0002_posts", redis_settings, partition=Partition(0, 4))
    assert stats.created > 0 and applied(raw) == set()
    status = run_cli("status")
    assert "interrupted" in status.stdout
    proc = run_cli("rollback")
    assert proc.returncode == 0 and "0002_posts" in proc.stdout
    assert post_records(raw) == {}
    assert not list(raw.scan_iter(match=keys.migration_state_pattern("0002_posts")))
