"""``migrate resync`` (alias ``migrate run --resync``): legacy keys written by other services after
the migration get their records; nothing is removed, no legacy key is written, a second resync
adds nothing."""

from __future__ import annotations

import json

import legacy_data
import redis
from legacy_data import Seeded, account_records, post_records, run_cli, snapshot

from redis_client.core import keys

seeded = legacy_data.seeded  # the fixture


def _other_service_writes(raw: redis.Redis) -> tuple[list[str], str]:
    """Direct legacy writes, as the auth service and older bots do: new posts and a new account."""
    new_ids = [f"late-{i}" for i in range(25)]
    for i, pid in enumerate(new_ids):
        member = json.dumps({
            "id": pid, "text": f"written later {i}", "sender_username": "late:comer",
            "timestamp": 1_800_000_000 + i, "quoted_tweet_id": None, "is_reply_to": None,
            "is_news_summary_tweet": False,
        })
        raw.zadd(keys.posted_tweets("late:comer"), {member: 1_800_000_000 + i})
    raw.hset(keys.twitter_data("late:comer"), mapping={
        "access_token": "enc:SECRET", "refresh_token": "enc:SECRET", "expires_at": "1800000000",
        "name": "Late Comer", "username": "late:comer", "id": "777",
    })
    return new_ids, "late:comer"


def test_resync_adds_only_what_is_missing(raw: redis.Redis, seeded: Seeded) -> None:
    refused = run_cli("resync")
    assert refused.returncode == 2 and "migrate run` first" in refused.stderr

    assert run_cli("run").returncode == 0
    records_before = post_records(raw)
    new_ids, user = _other_service_writes(raw)
    assert run_cli("verify").returncode == 1

    legacy = snapshot(raw)
    proc = run_cli("resync")
    assert proc.returncode == 0, proc.stderr
    assert "keys: 25 records created" in proc.stdout
    assert snapshot(raw) == legacy, "a resync wrote a legacy key"

    records = post_records(raw)
    assert {pid: records[pid] for pid in records_before} == records_before
    assert all(records[pid] == [user] for pid in new_ids)
    assert set(records) == set(records_before) | set(new_ids)
    account = account_records(raw)[user]
    assert account["name"] == "Late Comer" and "access_token" not in account
    assert run_cli("verify").returncode == 0

    everything = snapshot(raw, legacy_only=False)
    again = run_cli("run", "--resync")  # the alias
    assert again.returncode == 0 and "keys: 0 records created" in again.stdout
    assert run_cli("run", "--resync", "--dry-run").returncode == 2
    assert legacy_data.without_state(snapshot(raw, legacy_only=False)) == legacy_data.without_state(
        everything
    )
