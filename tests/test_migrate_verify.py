"""``migrate verify``: exit 0 only when every valid legacy post and account has its record."""

from __future__ import annotations

import json

import legacy_data
import redis
from legacy_data import Seeded, run_cli

from redis_client.core import keys

seeded = legacy_data.seeded  # the fixture


def test_verify_lists_what_is_missing(raw: redis.Redis, seeded: Seeded) -> None:
    assert run_cli("run").returncode == 0
    assert run_cli("verify").returncode == 0

    victim = "user:with:colons"
    ids = [pid for pid, accs in seeded.post_accounts.items() if accs == {victim}][:3]
    raw.delete(*(keys.model_key(keys.POST_PREFIX, pid) for pid in ids))
    shared = next(pid for pid, accs in seeded.post_accounts.items() if len(accs) == 2)
    owner = sorted(seeded.post_accounts[shared])[0]
    record = keys.model_key(keys.POST_PREFIX, shared)
    raw.execute_command("JSON.SET", record, "$.accounts", json.dumps([owner]))
    unlinked = (seeded.post_accounts[shared] - {owner}).pop()
    gone = sorted(seeded.valid_accounts)[3]
    raw.delete(keys.model_key(keys.ACCOUNT_PREFIX, gone))

    proc = run_cli("verify")
    assert proc.returncode == 1
    out = proc.stdout
    assert "3 without a Post record" in out and "1 whose record does not list the account" in out
    assert f"{victim}: 3 of {seeded.posts_per_account[victim]} posts without a record" in out
    assert all(pid in out for pid in ids)
    assert f"{unlinked}: 1 records not listing the account" in out
    assert f"{gone}: TwitterAccount record missing" in out
    assert "DIFFERENCES FOUND" in out


def test_stale_account_fields_warn_without_failing(raw: redis.Redis, seeded: Seeded) -> None:
    assert run_cli("run").returncode == 0
    name = sorted(seeded.valid_accounts)[5]
    raw.set(keys.action_time(name, "last_create_post_time"), json.dumps(1_800_000_000))
    proc = run_cli("verify")
    assert proc.returncode == 0, proc.stdout
    assert "1 stale" in proc.stdout and f"{name}: stale (warning): last_create_post_time" in proc.stdout


def test_bad_legacy_data_is_not_a_difference(raw: redis.Redis, seeded: Seeded) -> None:
    assert run_cli("run").returncode == 0
    proc = run_cli("verify")
    assert proc.returncode == 0
    assert f"({seeded.bad_members} bad members not compared)" in proc.stdout
    assert f"({len(seeded.bad_account_keys)} bad not compared)" in proc.stdout
