"""Bad data is reported (key, reason, short preview, never a secret), skipped, and not fatal."""

from __future__ import annotations

import json

import legacy_data
import redis
from legacy_data import (
    BAD_MEMBERS,
    SECRET,
    Seeded,
    assert_posts_exact,
    run_cli,
)

from redis_client.core import keys
from redis_client.core.codec import post_member
from redis_client.core.settings import RedisSettings
from redis_client.migrate.report import iter_report
from redis_client.records.bad import PREVIEW_CHARS

seeded = legacy_data.seeded  # the fixture


def _report(client: redis.Redis, migration_id: str) -> list[dict[str, object]]:
    return [json.loads(v) for v in client.hvals(keys.migration_report(migration_id))]


def test_bad_members_and_keys_are_reported_and_skipped(raw: redis.Redis, seeded: Seeded) -> None:
    proc = run_cli("run")
    assert proc.returncode == 0, proc.stderr
    assert_posts_exact(raw, seeded)

    posts = _report(raw, "0002_posts")
    assert len(posts) == seeded.bad_members + len(seeded.bad_post_keys)
    for entry in posts:
        assert str(entry["key"]).startswith("posted_tweets:") and entry["reason"]
        if entry["key"] in seeded.bad_post_keys:
            assert "not a sorted set" in str(entry["reason"]) and entry["preview"] is None
        else:
            preview = str(entry["preview"])
            assert len(preview) <= PREVIEW_CHARS + 3
    reasons = " ".join(str(e["reason"]) for e in posts)
    for expected in ("Invalid JSON", "id: Field required", "text: Field required",
                     "timestamp: Input should be", "Input should be an object"):
        assert expected in reasons

    accounts = _report(raw, "0003_accounts")
    reported = {str(e["key"]) for e in accounts}
    assert reported == seeded.bad_account_keys | seeded.bad_action_keys
    assert all(e["preview"] is None for e in accounts)  # never a value of twitter_data
    everything = json.dumps(posts + accounts) + proc.stdout + proc.stderr
    assert SECRET not in everything

    listed = run_cli("status", "--report", "0003_accounts")
    assert listed.returncode == 0 and SECRET not in listed.stdout + listed.stderr


def test_long_members_are_cut_in_previews(raw: redis.Redis) -> None:
    raw.zadd(keys.posted_tweets("alice"), {'{"id": "x", "text": "' + "y" * 500: 1.0})
    assert run_cli("run").returncode == 0
    (entry,) = _report(raw, "0002_posts")
    assert str(entry["preview"]).endswith("...") and len(str(entry["preview"])) == PREVIEW_CHARS + 3


def test_valid_older_members_are_not_bad(raw: redis.Redis) -> None:
    """Numeric ids, fractional timestamps, extra or missing optional fields: valid legacy data."""
    members = [
        json.dumps({"id": 123, "text": "numeric id", "sender_username": "a", "timestamp": 5}),
        json.dumps({"id": "f", "text": "fraction", "sender_username": "a", "timestamp": 7.9}),
        json.dumps({"id": "e", "text": "extra", "sender_username": "a", "timestamp": 1, "x": [1]}),
        json.dumps({"id": "m", "text": "minimal", "sender_username": "a", "timestamp": 1}),
        post_member({"id": "c", "text": "canonical", "sender_username": "a", "timestamp": 2,
                     "quoted_tweet_id": 9, "is_reply_to": None, "is_news_summary_tweet": True}),
    ]
    raw.zadd(keys.posted_tweets("a"), {m: float(i) for i, m in enumerate(members)})
    assert run_cli("run").returncode == 0
    assert _report(raw, "0002_posts") == []
    doc = json.loads(raw.execute_command("JSON.GET", keys.model_key(keys.POST_PREFIX, "123"), "$"))
    assert doc[0]["id"] == "123" and doc[0]["accounts"] == ["a"]
    frac = json.loads(raw.execute_command("JSON.GET", keys.model_key(keys.POST_PREFIX, "f"), "$"))
    assert frac[0]["timestamp"] == 7
    canon = json.loads(raw.execute_command("JSON.GET", keys.model_key(keys.POST_PREFIX, "c"), "$"))
    assert canon[0]["quoted_tweet_id"] == "9" and canon[0]["is_news_summary_tweet"] is True


def test_a_record_key_of_a_wrong_type_skips_only_that_post(
    raw: redis.Redis, redis_settings: RedisSettings
) -> None:
    fields = {"text": "t", "sender_username": "bob", "quoted_tweet_id": None,
              "is_reply_to": None, "is_news_summary_tweet": False}
    posts: dict[str | bytes, float] = {
        post_member({"id": f"p{i}", "timestamp": i, **fields}): float(i) for i in range(50)
    }
    raw.zadd(keys.posted_tweets("bob"), posts)
    raw.set(keys.model_key(keys.POST_PREFIX, "p7"), "squatter")  # not a JSON record
    proc = run_cli("run")
    assert proc.returncode == 0, proc.stderr
    (entry,) = _report(raw, "0002_posts")
    assert "'p7'" in str(entry["reason"]) and "WRONGTYPE" in str(entry["reason"])
    assert raw.get(keys.model_key(keys.POST_PREFIX, "p7")) == b"squatter"
    found = set(raw.scan_iter(match=keys.model_pattern(keys.POST_PREFIX), _type="ReJSON-RL"))
    assert len(found) == 49
    assert [e.key for e in iter_report(raw, "0002_posts")] == ["posted_tweets:bob"]


def test_a_key_name_that_is_not_utf8(raw: redis.Redis) -> None:
    raw.zadd(b"posted_tweets:\xff\xfe", {BAD_MEMBERS[1]: 1.0})
    raw.hset(b"twitter_data:\xff", "name", "x")
    proc = run_cli("run")
    assert proc.returncode == 0, proc.stderr
    keys_reported = {str(e["key"]) for e in _report(raw, "0002_posts") + _report(raw, "0003_accounts")}
    assert keys_reported == {"posted_tweets:\\xff\\xfe", "twitter_data:\\xff"}
