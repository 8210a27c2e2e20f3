"""The engine's building blocks: the member parser, streaming, partitions, the stats function."""

from __future__ import annotations

import asyncio
import json
import tracemalloc

import legacy_data
import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st
from legacy_data import (
    BAD_MEMBERS,
    Seeded,
    assert_posts_exact,
    post_records,
)

import migrations
from redis_client import translate
from redis_client.core import keys
from redis_client.core.codec import post_member
from redis_client.core.connector import Connector
from redis_client.core.drivers import SyncDriver
from redis_client.core.errors import InvalidPostError
from redis_client.core.settings import RedisSettings
from redis_client.migrate import steps
from redis_client.migrate.posts import PostKeysMigration, migrate_post_keys, run_posts_migration
from redis_client.records import members

seeded = legacy_data.seeded  # the fixture

VALID = [
    {"id": 1, "text": "numeric", "sender_username": "a", "timestamp": 1},
    {"id": 1.0, "text": "float id", "sender_username": "a", "timestamp": 1},
    {"id": "x", "text": "", "sender_username": "a", "timestamp": 1.99},
    {"id": "x", "text": "t", "sender_username": "a", "timestamp": 0, "extra": {"n": 1}},
    {"id": "x", "text": " spaced ", "sender_username": " a ", "timestamp": 3,
     "quoted_tweet_id": 5, "is_reply_to": "7", "is_news_summary_tweet": True},
    {"id": "ü", "text": "ünï\n", "sender_username": "a:b", "timestamp": 10**10},
]
MORE_BAD = [
    {"id": 1.5, "text": "t", "sender_username": "a", "timestamp": 1},
    {"id": "x", "text": "t", "sender_username": "", "timestamp": 1},
    {"id": "x", "text": "t", "sender_username": "a", "timestamp": True},
    {"id": "x", "text": "t", "sender_username": "a", "timestamp": 1, "is_news_summary_tweet": "maybe"},
    {"id": "x", "text": None, "sender_username": "a", "timestamp": 1},
]


@pytest.mark.parametrize("fields", VALID)
def test_member_parser_accepts_what_post_accepts(fields: dict[str, object]) -> None:
    raw_member = json.dumps(fields).encode()
    post = translate.parse_member(raw_member)
    (parsed,) = members.parse([raw_member], on_bad=lambda i, r: pytest.fail(r))
    doc = json.loads(members.document(parsed, json.dumps("acc")))
    assert doc == json.loads(_document(post, "acc"))


@pytest.mark.parametrize("raw_member", BAD_MEMBERS + [json.dumps(f) for f in MORE_BAD])
def test_member_parser_rejects_what_post_rejects(raw_member: str) -> None:
    with pytest.raises(InvalidPostError) as exc:
        translate.parse_member(raw_member)
    reasons: list[str] = []
    good = members.parse([b'{"id":"ok","text":"t","sender_username":"a","timestamp":1}',
                          raw_member.encode()], on_bad=lambda i, r: reasons.append(r))
    assert len(good) == 1 and reasons == [str(exc.value)]


def test_a_huge_sorted_set_is_paged_not_loaded(raw: redis.Redis, redis_settings: RedisSettings) -> None:
    n, text = 40_000, "x" * 300
    zkey = keys.posted_tweets("big:account")
    pipe = raw.pipeline(transaction=False)
    for start in range(0, n, 2000):
        pipe.zadd(zkey, {post_member({"id": f"id{i}", "text": text, "sender_username": "big",
                                      "timestamp": i, "quoted_tweet_id": None, "is_reply_to": None,
                                      "is_news_summary_tweet": False}): i
                         for i in range(start, start + 2000)})
    pipe.execute()
    whole = sum(len(m) for m in raw.zrange(zkey, 0, -1))
    assert whole > 14_000_000
    raw.config_resetstat()
    tracemalloc.start()
    try:
        stats = run_posts_migration(redis_settings, batch_size=500)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stats.posts == n and stats.created == n
    assert peak < whole / 3, f"peak {peak} bytes for a {whole}-byte sorted set"
    calls = raw.info("commandstats")["cmdstat_zrange"]["calls"]
    assert calls >= n // 500  # ZRANGE pages of at most batch_size members


def test_partitions_resume_independently_and_agree(
    raw: redis.Redis, seeded: Seeded, redis_settings: RedisSettings
) -> None:
    """What a Ray driver would do: split the keys, one checkpoint per partition."""
    all_keys = sorted(raw.scan_iter(match=keys.prefix_pattern(keys.POSTED_TWEETS)))
    parts = [all_keys[0::2], all_keys[1::2]]
    first = migrate_post_keys(redis_settings, parts[0], partition="p0", batch_size=100)
    again = migrate_post_keys(redis_settings, parts[0], partition="p0", batch_size=100)
    assert again.already_done and again.created == first.created  # resumes: nothing left
    second = migrate_post_keys(redis_settings, parts[1], partition="p1", batch_size=100)
    assert first.posts + second.posts == seeded.valid_posts
    assert_posts_exact(raw, seeded)


def test_stats_function_for_benchmarks(
    raw: redis.Redis, seeded: Seeded, redis_settings: RedisSettings
) -> None:
    stats = run_posts_migration(redis_settings)
    assert stats.posts == seeded.valid_posts
    assert stats.skipped == seeded.bad_members + len(seeded.bad_post_keys)
    assert stats.seconds > 0 and stats.posts_per_second > 0
    rerun = run_posts_migration(redis_settings)  # fresh: redone, nothing new
    assert rerun.created == 0 and rerun.posts == seeded.valid_posts
    assert len(post_records(raw)) == len(seeded.post_ids)


def test_dry_run_engine_writes_nothing(
    raw: redis.Redis, seeded: Seeded, redis_settings: RedisSettings
) -> None:
    before = raw.dbsize()
    engine = PostKeysMigration(
        raw, batch_size=64, dry_run=True, driver=SyncDriver(Connector(redis_settings))
    )
    stats = engine.run_scan()
    assert stats.dry_run and stats.posts == seeded.valid_posts and stats.created >= len(seeded.post_ids)
    assert raw.dbsize() == before


def test_migration_classes_match_the_engine() -> None:
    ids = [m.migration_id for m in migrations.MIGRATIONS]
    assert ids == ["0001_indexes", "0002_posts", "0003_accounts"]
    seen: set[str] = set()
    for cls in migrations.MIGRATIONS:
        assert set(cls.dependencies) <= seen  # listed in dependency order
        seen.add(cls.migration_id)
        assert cls.description


def test_loop_safe_client_survives_a_new_event_loop(redis_settings: RedisSettings) -> None:
    """``om migrate-data`` runs each step in a new event loop on one client."""
    from redis_client.migrate.runner import async_client

    client = steps.loop_safe(async_client(redis_settings))
    assert asyncio.run(client.ping())
    assert asyncio.run(client.ping())  # would fail: "attached to a different loop"


def test_malformed_members_never_combine() -> None:
    """Parsed one at a time: two halves of a post are two bad members, not one post."""
    first = b'{"id": "a", "text": "t", "sender_username": "u", "timestamp": 1, "y": "'
    second = b'"}'
    twice = (b'{"id": "b", "text": "t", "sender_username": "u", "timestamp": 1}, '
             b'{"id": "c", "text": "t", "sender_username": "u", "timestamp": 1}')
    bad: list[int] = []
    assert members.parse([twice, first, second], on_bad=lambda i, r: bad.append(i)) == []
    assert bad == [0, 1, 2]


_json_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 2**64), st.floats(allow_nan=True),
    st.text(max_size=5), st.lists(st.integers(0, 3), max_size=2),
)
_member_dict = st.fixed_dictionaries(
    {},
    optional={
        name: _json_scalar
        for name in ("id", "text", "sender_username", "timestamp", "quoted_tweet_id",
                     "is_reply_to", "is_news_summary_tweet", "extra")
    },
)


@settings(max_examples=400, deadline=None)
@given(_member_dict)
def test_member_parser_agrees_with_post(fields: dict[str, object]) -> None:
    raw_member = json.dumps(fields).encode()
    try:
        expected: str | None = _document(translate.parse_member(raw_member), "u")
    except InvalidPostError:
        expected = None
    parsed = members.parse([raw_member], on_bad=lambda i, r: None)
    if expected is None:
        assert parsed == []
    else:
        assert len(parsed) == 1
        assert json.loads(members.document(parsed[0], '"u"')) == json.loads(expected)


def _document(post: object, account: str) -> str:
    """The record JSON ``add_user_post`` writes for ``post`` under one account."""
    member = translate.member_of(post)  # type: ignore[arg-type]
    return translate.document_from_member(member, translate.accounts_suffix([account]))
