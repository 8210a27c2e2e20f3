"""The engine (``redis_client.migrate.engine``) through the posts migration: paging, partitions,
dry runs, resuming from a checkpoint."""

from __future__ import annotations

import tracemalloc

import legacy_data
import pytest
import redis
from legacy_data import Seeded, assert_posts_exact, post_records

from redis_client.core import keys
from redis_client.core.codec import post_member
from redis_client.core.errors import InvalidArgumentError
from redis_client.core.settings import RedisSettings
from redis_client.migrate import commands
from redis_client.migrate.checkpoint import Checkpoint, Position
from redis_client.migrate.context import Partition

seeded = legacy_data.seeded  # the fixture


def _member(i: int, text: str = "t") -> str:
    return post_member({"id": f"id{i}", "text": text, "sender_username": "big", "timestamp": i,
                        "quoted_tweet_id": None, "is_reply_to": None, "is_news_summary_tweet": False})


def test_a_huge_sorted_set_is_paged_not_loaded(raw: redis.Redis, redis_settings: RedisSettings) -> None:
    n, text = 40_000, "x" * 300
    zkey = keys.posted_tweets("big:account")
    pipe = raw.pipeline(transaction=False)
    for start in range(0, n, 2000):
        pipe.zadd(zkey, {_member(i, text): i for i in range(start, start + 2000)})
    pipe.execute()
    whole = sum(len(m) for m in raw.zrange(zkey, 0, -1))
    assert whole > 14_000_000
    raw.config_resetstat()
    tracemalloc.start()
    try:
        stats = commands.run_step("0002_posts", redis_settings, batch_size=500)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stats.items == n and stats.created == n
    assert peak < whole / 3, f"peak {peak} bytes for a {whole}-byte sorted set"
    calls = raw.info("commandstats")["cmdstat_zrange"]["calls"]
    assert calls >= n // 500  # ZRANGE pages of at most batch_size members


def test_partitions_resume_independently_and_agree(
    raw: redis.Redis, seeded: Seeded, redis_settings: RedisSettings
) -> None:
    """What the Ray driver does: each partition its own keys and its own checkpoint."""
    first = commands.run_step("0002_posts", redis_settings, batch_size=100, partition=Partition(0, 2))
    again = commands.run_step("0002_posts", redis_settings, batch_size=100, partition=Partition(0, 2))
    assert again.already_done and again.created == first.created  # its checkpoint: nothing left
    second = commands.run_step("0002_posts", redis_settings, batch_size=100, partition=Partition(1, 2))
    assert first.items + second.items == seeded.valid_posts
    assert first.keys and second.keys
    assert_posts_exact(raw, seeded)
    names = {cp.partition for cp in (Checkpoint(raw, "0002_posts", "ray-0-of-2"),
                                     Checkpoint(raw, "0002_posts", "ray-1-of-2")) if cp.load()[0].done}
    assert names == {"ray-0-of-2", "ray-1-of-2"}


def test_every_key_is_in_exactly_one_partition(raw: redis.Redis, seeded: Seeded) -> None:
    all_keys = list(raw.scan_iter(match="posted_tweets:*", count=1000))
    for count in (1, 2, 3, 7):
        parts = [Partition(i, count) for i in range(count)]
        assert all(sum(p.holds(k) for p in parts) == 1 for k in all_keys)
    with pytest.raises(InvalidArgumentError):
        Partition(3, 3)


def test_rerun_from_scratch_counts_without_writing(
    raw: redis.Redis, seeded: Seeded, redis_settings: RedisSettings
) -> None:
    stats = commands.run_step("0002_posts", redis_settings)
    assert stats.items == seeded.valid_posts
    assert stats.skipped == seeded.bad_members + len(seeded.bad_post_keys)
    assert stats.seconds > 0 and stats.per_second > 0
    rerun = commands.run_step("0002_posts", redis_settings, fresh=True)  # checkpoint forgotten
    assert rerun.created == 0 and rerun.items == seeded.valid_posts and not rerun.already_done
    assert len(post_records(raw)) == len(seeded.post_ids)


def test_dry_run_writes_nothing(raw: redis.Redis, seeded: Seeded, redis_settings: RedisSettings) -> None:
    before = legacy_data.snapshot(raw, legacy_only=False)
    stats = commands.run_step("0002_posts", redis_settings, batch_size=64, dry_run=True)
    assert stats.dry_run and stats.items == seeded.valid_posts and stats.created >= len(seeded.post_ids)
    assert legacy_data.snapshot(raw, legacy_only=False) == before


def test_resumes_a_big_key_where_the_checkpoint_stands(
    raw: redis.Redis, redis_settings: RedisSettings
) -> None:
    """A checkpoint in the middle of a sorted set: the rerun reads from that offset on."""
    zkey = keys.posted_tweets("resumer")
    raw.zadd(zkey, {_member(i): i for i in range(1000)})
    Checkpoint(raw, "0002_posts").commit(
        Position(cursor=0, key=zkey.encode(), offset=600), {"items": 600, "processed": 600}
    )
    stats = commands.run_step("0002_posts", redis_settings, batch_size=100)
    assert stats.processed == 1000 and stats.resumed_items == 600
    assert stats.created == 400  # members 0..599 were "written" by the run that was interrupted
    assert len(post_records(raw)) == 400
