"""Idempotent: a second run changes nothing and writes no new key, at every level."""

from __future__ import annotations

import legacy_data
import redis
from legacy_data import (
    Seeded,
    assert_posts_exact,
    run_cli,
    snapshot,
    without_state,
)

from redis_client.core.settings import RedisSettings
from redis_client.migrate import commands

seeded = legacy_data.seeded  # the fixture


def test_second_cli_run_writes_nothing(raw: redis.Redis, seeded: Seeded) -> None:
    assert run_cli("run").returncode == 0
    first = snapshot(raw, legacy_only=False)
    proc = run_cli("run")
    assert proc.returncode == 0 and "nothing to do" in proc.stdout
    assert snapshot(raw, legacy_only=False) == first


def test_steps_rerun_from_scratch_write_nothing(
    raw: redis.Redis, seeded: Seeded, redis_settings: RedisSettings
) -> None:
    """Even forced to redo all the work (checkpoints forgotten), no record changes."""
    assert run_cli("run").returncode == 0
    records = without_state(snapshot(raw, legacy_only=False))

    stats = commands.run_step("0002_posts", redis_settings, batch_size=300, fresh=True)
    assert stats.created == 0 and stats.items == seeded.valid_posts
    acc = commands.run_step("0003_accounts", redis_settings, batch_size=7, fresh=True)
    assert (acc.created, acc.updated, acc.items) == (0, 0, len(seeded.valid_accounts))
    again = commands.run_step("0001_indexes", redis_settings)
    assert again.created == 0

    assert without_state(snapshot(raw, legacy_only=False)) == records
    assert_posts_exact(raw, seeded)


def test_rerun_after_rollback_recreates_the_same_records(raw: redis.Redis, seeded: Seeded) -> None:
    assert run_cli("run").returncode == 0
    first = snapshot(raw, legacy_only=False)
    assert run_cli("rollback", "--yes").returncode == 0
    assert run_cli("run").returncode == 0
    again = snapshot(raw, legacy_only=False)
    assert again.keys() == first.keys()
    assert without_state(again) == without_state(first)
