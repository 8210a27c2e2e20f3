"""``migrate inventory``: counts per documented pattern and type; lists keys matching none."""

from __future__ import annotations

import legacy_data
import redis
from legacy_data import Seeded, run_cli

from redis_client.core import keys
from redis_client.core.settings import RedisSettings
from redis_client.migrate.commands import inventory
from redis_client.migrate.inventory import VALUE_PATTERN, classify

seeded = legacy_data.seeded  # the fixture


def test_inventory_counts(raw: redis.Redis, seeded: Seeded, redis_settings: RedisSettings) -> None:
    result = inventory(redis_settings)
    counts = dict(((name, kind), n) for name, kind, n in result.rows())
    assert counts[("posted_tweets:{username}", "zset")] == len(seeded.posts_per_account)
    hashes = counts[("twitter_data:{username}", "hash")]
    strings = counts[("twitter_data:{username}", "string")]
    assert hashes + strings == len(seeded.valid_accounts) + 1  # + the non-JSON string
    assert strings >= 2  # older JSON-string accounts
    assert counts[(VALUE_PATTERN, "string")] == 2
    assert counts[(keys.FUNCTION_VARIABLES, "string")] == 1
    unmatched = {key for key, _, _ in result.unmatched}
    assert unmatched == {
        "events:stream", "random_hash", "posted_tweets:wrongtype",
        *seeded.bad_action_keys - {k for k in seeded.bad_action_keys if raw.type(k) == b"string"},
        *(k for k in seeded.bad_account_keys if raw.type(k) == b"list"),
    }
    assert result.total == raw.dbsize()

    assert run_cli("run").returncode == 0
    after = inventory(redis_settings)
    names = {name for name, _, _ in after.rows()}
    assert any("Post records" in n for n in names) and any("TwitterAccount" in n for n in names)
    assert any("migration state" in n for n in names) and any("redis-om" in n for n in names)
    assert after.unmatched_total == result.unmatched_total


def test_classify_rules() -> None:
    assert classify("posted_tweets:a:b", "zset") == ("posted_tweets:{username}", "")
    assert classify("posted_tweets:a", "hash")[0] is None
    assert classify("last_likes_time:x", "string")[0] == "last_likes_time:{username}"
    assert classify("anything", "string")[0] == VALUE_PATTERN
    assert classify("anything", "list")[0] is None
    assert classify("redis_client_om:post:1", "ReJSON-RL")[0] is not None
    assert classify(keys.posting_slot("alice"), "hash")[0] is not None  # docs/pacing.md
    assert classify(keys.schema_lock_key("idx"), "string")[0] is not None


def test_cli_output(raw: redis.Redis, seeded: Seeded) -> None:
    proc = run_cli("inventory", "--limit", "2")
    assert proc.returncode == 0
    assert "keys match no documented pattern and type" in proc.stdout
    assert "... and" in proc.stdout
    assert "SECRET" not in proc.stdout
