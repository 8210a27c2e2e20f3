"""Non-destructive: no legacy key is modified, renamed or deleted by run, rerun or rollback."""

from __future__ import annotations

import legacy_data
import redis
from legacy_data import Seeded, run_cli, snapshot

seeded = legacy_data.seeded  # the fixture


def test_legacy_keys_byte_for_byte(raw: redis.Redis, seeded: Seeded) -> None:
    legacy = snapshot(raw)
    assert len(legacy) > 100

    steps = (["run"], ["run"], ["rollback", "0002_posts", "--yes"], ["run"], ["rollback", "--yes"], ["run"])
    for args in steps:
        proc = run_cli(*args)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        after = snapshot(raw)
        assert after.keys() == legacy.keys(), args  # none deleted, renamed or added
        changed = [k for k in legacy if after[k] != legacy[k]]
        assert not changed, (args, changed[:5])  # DUMP (value and encoding) and TTL unchanged


def test_full_rollback_restores_the_keyspace(raw: redis.Redis, seeded: Seeded) -> None:
    """Rolling everything back leaves exactly the keys that were there before the first run."""
    before = snapshot(raw, legacy_only=False)
    assert run_cli("run").returncode == 0
    assert len(snapshot(raw, legacy_only=False)) > len(before)
    proc = run_cli("rollback", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert "0003_accounts, 0002_posts, 0001_indexes" in proc.stdout  # newest first
    assert snapshot(raw, legacy_only=False) == before
    assert raw.execute_command("FT._LIST") == []
