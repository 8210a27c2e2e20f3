"""``migrate rollback``: removes the migration's records and state, and nothing else."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import subprocess
import sys
import time

import legacy_data
import redis
from legacy_data import (
    ROOT,
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
    proc = run_cli("rollback", "0002_posts", "--yes")
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
    proc = run_cli("rollback", "0001_indexes", "--yes")
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
    proc = run_cli("rollback", "--yes")
    assert proc.returncode == 0 and "0002_posts" in proc.stdout
    assert post_records(raw) == {}
    assert not list(raw.scan_iter(match=keys.migration_state_pattern("0002_posts")))


# -- rollback deletes records: it asks on a terminal and needs --yes otherwise (exit 2, nothing deleted) --


def _small(raw: redis.Redis) -> dict[bytes, object]:
    legacy_data.seed(raw, posts=200, accounts=5, bad_members=0)
    assert run_cli("run").returncode == 0
    return snapshot(raw, legacy_only=False)


def test_rollback_without_a_terminal_needs_yes(raw: redis.Redis) -> None:
    before = _small(raw)
    for args in (["rollback"], ["rollback", "0003_accounts"]):
        proc = run_cli(*args)  # stdin: /dev/null
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert proc.stderr.splitlines() == [
            "redis-client migrate rollback: error: rollback deletes records: pass --yes to confirm "
            "(stdin is not a terminal); nothing was deleted"
        ]
    closed = subprocess.run(  # stdin closed altogether
        ["sh", "-c", 'exec "$0" -m redis_client migrate rollback 0<&-', sys.executable],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert closed.returncode == 2 and "pass --yes" in closed.stderr, closed.stderr
    assert snapshot(raw, legacy_only=False) == before


def _on_a_terminal(answer: bytes, *args: str) -> tuple[int, str, str]:
    """Run ``migrate rollback`` on a pseudo-terminal, answer its question; (code, terminal, stdout)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "redis_client", "migrate", "rollback", *args], cwd=ROOT,
        stdin=slave, stdout=subprocess.PIPE, stderr=slave, env=dict(os.environ),
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60
    while b"[y/N]" not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1)
        if ready:
            seen += os.read(master, 4096)
    os.write(master, answer)
    code = proc.wait(timeout=120)
    with contextlib.suppress(OSError):
        seen += os.read(master, 65536)
    os.close(master)
    assert proc.stdout is not None
    return code, seen.decode("utf-8", "replace"), proc.stdout.read().decode()


def test_rollback_on_a_terminal_asks_first(raw: redis.Redis) -> None:
    before = _small(raw)
    code, terminal, _ = _on_a_terminal(b"n\n")
    assert code == 2
    assert "Delete the records and state of 0003_accounts, 0002_posts, 0001_indexes" in terminal
    assert "not confirmed; nothing was deleted" in terminal
    assert snapshot(raw, legacy_only=False) == before

    code, terminal, out = _on_a_terminal(b"y\n", "0003_accounts")
    assert code == 0, terminal
    assert "Delete the records and state of 0003_accounts (" in terminal
    assert "rolled back: 0003_accounts" in out
    assert account_records(raw) == {} and post_records(raw)
