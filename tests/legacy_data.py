"""Realistic legacy data, written with raw redis-py (pipelined), and helpers for the migration tests.

What production holds: thousands of posts over dozens of accounts (one much bigger than the
rest), usernames with ':' and glob characters, members written by older versions (numeric ids,
fractional timestamps, extra fields, missing optional fields), the same post id under two
accounts, older JSON-string ``twitter_data``, malformed members, keys of unexpected types, and
every other documented key kind. Tokens hold ``SECRET`` so tests can check none leaks.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from redis_client.core import keys

ROOT = Path(__file__).resolve().parents[1]
SECRET = "SECRET"

#: Usernames that break naive key handling.
ODD_NAMES = [
    "user:with:colons",
    "star*name?",
    "[brackets]",
    "{braces}",
    "sp ace",
    "ünïcødé",
    "back\\slash",
    "trailing:",
]

#: Members no migration may turn into records (and why).
BAD_MEMBERS: list[str] = [
    '{"id": "b1", "text": "cut off',  # invalid JSON
    '{"text": "no id", "sender_username": "x", "timestamp": 1}',
    '{"id": "b2", "sender_username": "x", "timestamp": 1}',  # no text
    '{"id": "b3", "text": "no sender", "timestamp": 1}',
    '{"id": "b4", "text": "no time", "sender_username": "x"}',
    '{"id": true, "text": "bool id", "sender_username": "x", "timestamp": 1}',
    '{"id": "b5", "text": "word time", "sender_username": "x", "timestamp": "yesterday"}',
    '{"id": "b6", "text": 12, "sender_username": "x", "timestamp": 1}',
    '["a", "list"]',
    '"just a string"',
    '{"id": "", "text": "empty id", "sender_username": "x", "timestamp": 1}',
    '{"id": "b7", "text": "negative", "sender_username": "x", "timestamp": -5}',
]


@dataclass
class Seeded:
    #: Post id -> usernames whose sorted set holds a valid member with that id.
    post_accounts: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    #: Username -> number of valid members in its sorted set.
    posts_per_account: dict[str, int] = field(default_factory=dict)
    bad_members: int = 0
    valid_accounts: set[str] = field(default_factory=set)
    #: twitter_data keys that are not a usable account.
    bad_account_keys: set[str] = field(default_factory=set)
    #: Username -> action type -> time, for the valid accounts.
    action_times: dict[str, dict[str, float]] = field(default_factory=dict)
    bad_action_keys: set[str] = field(default_factory=set)
    bad_post_keys: set[str] = field(default_factory=set)
    valid_posts: int = 0

    @property
    def post_ids(self) -> set[str]:
        return set(self.post_accounts)


def usernames(n: int) -> list[str]:
    names = [f"user{i:03d}" for i in range(n)]
    for i, odd in enumerate(ODD_NAMES[: max(n - 1, 0)]):
        names[i + 1] = odd
    return names


def member(fields: dict[str, Any]) -> str:
    return json.dumps(fields)


def _post_fields(rng: random.Random, post_id: str, username: str, ts: float, i: int) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": post_id,
        "text": f"tweet {post_id} by {username} #{i}",
        "sender_username": username,
        "timestamp": int(ts),
        "quoted_tweet_id": None,
        "is_reply_to": None,
        "is_news_summary_tweet": False,
    }
    variant = i % 10
    if variant == 1 and post_id.isdigit():
        base["id"] = int(post_id)  # an older writer stored numbers
    elif variant == 2:
        base["timestamp"] = ts + 0.25  # fractional seconds
    elif variant == 3:
        base["lang"] = "en"  # extra field
    elif variant == 4:
        for name in ("quoted_tweet_id", "is_reply_to", "is_news_summary_tweet"):
            del base[name]  # older members lack the optional fields
    elif variant == 5:
        base["quoted_tweet_id"] = str(rng.randrange(10**17, 10**18))
    elif variant == 6:
        base["is_news_summary_tweet"] = True
    return base


def seed(
    client: redis.Redis,
    *,
    posts: int = 5000,
    accounts: int = 40,
    big_share: float = 0.3,
    bad_members: int = 24,
    shared: int = 20,
    rng_seed: int = 7,
    extras: bool = True,
) -> Seeded:
    """Write the legacy data; returns what the records must be afterwards."""
    rng = random.Random(rng_seed)
    names = usernames(accounts)
    out = Seeded()
    # Posts: one big account (big_share of all), the rest spread unevenly.
    big = int(posts * big_share)
    weights = [rng.random() + 0.2 for _ in names[1:]]
    rest = posts - big
    counts = [big] + [int(rest * w / sum(weights)) for w in weights]
    counts[-1] += posts - sum(counts)
    pipe = client.pipeline(transaction=False)
    next_id = 10**15
    all_ids: list[tuple[str, str]] = []
    for username, count in zip(names, counts, strict=True):
        zkey = keys.posted_tweets(username)
        batch: dict[str | bytes, float] = {}
        ts = 1_600_000_000.0 + rng.randrange(1000)
        for i in range(count):
            next_id += 1
            post_id = str(next_id) if i % 3 else f"tw{next_id}"
            ts += rng.randrange(1, 600)
            fields = _post_fields(rng, post_id, username, ts, i)
            batch[member(fields)] = float(fields["timestamp"])
            out.post_accounts[post_id].add(username)
            all_ids.append((post_id, username))
            if len(batch) >= 1000:
                pipe.zadd(zkey, batch)
                batch = {}
        if batch:
            pipe.zadd(zkey, batch)
        out.posts_per_account[username] = count
    # The same post id under a second account (e.g. a shared or re-posted tweet).
    for post_id, owner in rng.sample(all_ids, min(shared, len(all_ids))):
        other = rng.choice([n for n in names if n != owner])
        fields = _post_fields(rng, post_id, owner, 1_650_000_000.0, 0)
        pipe.zadd(keys.posted_tweets(other), {member(fields): 1_650_000_000.0})
        if other not in out.post_accounts[post_id]:
            out.post_accounts[post_id].add(other)
            out.posts_per_account[other] += 1
    # Malformed members, spread over accounts.
    for i in range(bad_members):
        raw = BAD_MEMBERS[i % len(BAD_MEMBERS)]
        raw = raw if i < len(BAD_MEMBERS) else raw[:-1] + f"{' ' * (i // len(BAD_MEMBERS))}" + raw[-1]
        pipe.zadd(keys.posted_tweets(names[i % len(names)]), {raw: float(i)})
        out.bad_members += 1
    out.valid_posts = sum(out.posts_per_account.values())
    _seed_accounts(pipe, rng, names, out)
    if extras:
        _seed_extras(pipe, names, out)
    pipe.execute()
    return out


def _seed_accounts(pipe: Any, rng: random.Random, names: list[str], out: Seeded) -> None:
    for i, username in enumerate(names):
        tkey = keys.twitter_data(username)
        data = {
            "access_token": f"enc:{SECRET}-access-{i}",
            "refresh_token": f"enc:{SECRET}-refresh-{i}",
            "expires_at": str(1_700_000_000 + i),
            "name": f"Name {username}",
            "username": username,
            "id": str(9_000_000 + i),
        }
        if i % 7 == 3:
            data.update(auth_token=f"{SECRET}-auth", csrf_token=f"{SECRET}-csrf", guest_id=f"{SECRET}-g")
        if i == len(names) - 1:
            pipe.rpush(tkey, f"{SECRET}-in-a-list")  # unexpected type
            out.bad_account_keys.add(tkey)
            continue
        if i == len(names) - 2:
            pipe.set(tkey, f"not json {SECRET}")  # a string that is no JSON object
            out.bad_account_keys.add(tkey)
            continue
        if i % 5 == 2:
            pipe.set(tkey, json.dumps(data))  # older deployments: a JSON string
        else:
            pipe.hset(tkey, mapping=data)
        out.valid_accounts.add(username)
        times: dict[str, float] = {}
        for j, action in enumerate(keys.ACTION_TYPES):
            if (i + j) % 3 == 0:
                value = 1_690_000_000 + i * 10 + j + (0.5 if j % 2 else 0)
                pipe.set(keys.action_time(username, action), json.dumps(value))
                times[action] = float(value)
        out.action_times[username] = times
    # Bad action-time values: a JSON string, and a key of the wrong type.
    first = sorted(out.valid_accounts)[0]
    bad1 = keys.action_time(first, "last_likes_time")
    pipe.set(bad1, json.dumps("soon"))
    out.action_times[first].pop("last_likes_time", None)
    bad2 = keys.action_time(first, "last_comment_agix_time")
    pipe.delete(bad2)
    pipe.hset(bad2, "t", "1")
    out.action_times[first].pop("last_comment_agix_time", None)
    out.bad_action_keys |= {bad1, bad2}


def _seed_extras(pipe: Any, names: list[str], out: Seeded) -> None:
    pipe.rpush(keys.created_tweet("create_tweet"), "https://twitter.com/i/web/status/1")
    pipe.zadd(keys.send_partnership(names[0]), {"partner1": 1_700_000_000})
    pipe.sadd(keys.gorilla_marketing_answered(names[0]), "123")
    pipe.sadd(keys.user_likes(names[1]), "456")
    pipe.set(keys.FUNCTION_VARIABLES, json.dumps({"create_tweet": ["my_tweets"]}))
    pipe.set("some_setting", json.dumps({"a": 1}))
    pipe.set("temporary_value", json.dumps(5), ex=3600)
    pipe.xadd("events:stream", {"e": "1"})  # matches no documented pattern
    pipe.hset("random_hash", "f", "v")
    pipe.set(keys.posted_tweets("wrongtype"), "not a sorted set")  # reported, skipped
    out.bad_post_keys.add(keys.posted_tweets("wrongtype"))


# --- checks shared by the tests ---


def is_legacy(key: bytes) -> bool:
    return not (
        key.startswith(keys.MODEL_NAMESPACE.encode() + b":") or key == keys.APPLIED_MIGRATIONS.encode()
    )


def snapshot(client: redis.Redis, legacy_only: bool = True) -> dict[bytes, tuple[bytes | None, int]]:
    """DUMP and PTTL of every key (legacy keys only by default)."""
    out = {}
    names = [k for k in client.scan_iter(count=1000) if not legacy_only or is_legacy(k)]
    pipe = client.pipeline(transaction=False)
    for key in names:
        pipe.dump(key)
        pipe.pttl(key)
    replies = pipe.execute()
    for i, key in enumerate(names):
        ttl = replies[2 * i + 1]
        out[key] = (replies[2 * i], -1 if ttl < 0 else ttl // 60_000)  # minutes: TTLs tick
    return out


def post_records(client: redis.Redis) -> dict[str, list[str]]:
    """Post id -> the ``accounts`` list of its record, for every Post record."""
    pattern = keys.model_pattern(keys.POST_PREFIX)
    found = list(client.scan_iter(match=pattern, count=1000))
    pipe = client.pipeline(transaction=False)
    for key in found:
        pipe.execute_command("JSON.GET", key, "$")
    out = {}
    for key, raw in zip(found, pipe.execute(), strict=True):
        doc = json.loads(raw)[0]
        out[keys.model_pk_from_key(key.decode(), keys.POST_PREFIX)] = doc["accounts"]
    return out


def assert_posts_exact(client: redis.Redis, seeded: Seeded, extra: dict[str, set[str]] | None = None) -> None:
    """Every valid post has exactly one record, listing each of its accounts exactly once."""
    records = post_records(client)
    expected = {pid: set(accs) for pid, accs in seeded.post_accounts.items()}
    for pid, accs in (extra or {}).items():
        expected.setdefault(pid, set()).update(accs)
    missing = set(expected) - set(records)
    assert not missing, f"{len(missing)} posts without a record, e.g. {sorted(missing)[:5]}"
    surplus = set(records) - set(expected)
    assert not surplus, f"{len(surplus)} unexpected records, e.g. {sorted(surplus)[:5]}"
    for pid, accounts in records.items():
        assert len(accounts) == len(set(accounts)), f"duplicate account in record {pid}: {accounts}"
        assert set(accounts) == expected[pid], f"record {pid}: {accounts} != {expected[pid]}"


def account_records(client: redis.Redis) -> dict[str, dict[str, Any]]:
    pattern = keys.model_pattern(keys.ACCOUNT_PREFIX)
    found = list(client.scan_iter(match=pattern, count=1000))
    out = {}
    for key in found:
        doc = json.loads(client.execute_command("JSON.GET", key, "$"))[0]
        out[keys.model_pk_from_key(key.decode(), keys.ACCOUNT_PREFIX)] = doc
    return out


def run_cli(
    *args: str, timeout: float = 180, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m redis_client migrate ...`` as an operator runs it from a script (REDIS_URL from
    the env; stdin is not a terminal, so ``rollback`` needs ``--yes``)."""
    return subprocess.run(
        [sys.executable, "-m", "redis_client", "migrate", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def applied(client: redis.Redis) -> set[str]:
    return {m.decode() for m in client.smembers(keys.APPLIED_MIGRATIONS)}


ALL_MIGRATIONS = ["0001_indexes", "0002_posts", "0003_accounts"]


# --- fixtures (import them into a test module to use them; ``raw`` comes from conftest) ---

import pytest  # noqa: E402


@pytest.fixture
def seeded(raw: redis.Redis) -> Seeded:
    """Thousands of posts over dozens of accounts, with every kind of legacy oddity."""
    return seed(raw, posts=3000, accounts=30)


def without_state(snap: dict[bytes, Any]) -> dict[bytes, Any]:
    """A snapshot without the migrations' own bookkeeping (checkpoints carry a timestamp)."""
    state = (keys.MODEL_NAMESPACE + ":migration:").encode()
    return {k: v for k, v in snap.items() if not k.startswith(state)}
