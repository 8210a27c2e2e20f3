"""``report``: bad entries (key, reason, 80-character preview) and a step's counters; ``progress``."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import redis

from redis_client.core import keys
from redis_client.migrate.checkpoint import Checkpoint, Position
from redis_client.migrate.progress import LogProgress, log_progress, terminal_progress
from redis_client.migrate.report import (
    SAMPLE_SIZE,
    StepStats,
    combined,
    iter_report,
    reason_kind,
    report_size,
)
from redis_client.records.bad import PREVIEW_CHARS, BadEntry, bad_item, entry_id, key_name


def test_bad_entries_round_trip_through_json() -> None:
    for entry in (BadEntry("posted_tweets:ü", "why", "{\"id\""), BadEntry("twitter_data:a", "why")):
        assert BadEntry.from_json(entry.to_json()) == entry


def test_previews_are_cut_and_only_for_members() -> None:
    _, long = bad_item("k", "r", b"x" * 500)
    assert long.preview == "x" * PREVIEW_CHARS + "..."
    _, short = bad_item("k", "r", b"\xffab")
    assert short.preview == "\ufffdab"
    _, account = bad_item("twitter_data:a", "twitter_data is neither a hash nor a JSON object")
    assert account.preview is None  # account data is never shown


def test_entry_ids_are_stable_and_distinct() -> None:
    assert entry_id("k", b"m1") == entry_id("k", b"m1")
    assert len({entry_id("k", b"m1"), entry_id("k", b"m2"), entry_id("k2", b"m1")}) == 3
    assert key_name(b"posted_tweets:\xff") == "posted_tweets:\\xff"


def test_reasons_are_grouped_without_positions() -> None:
    assert reason_kind("post: Invalid JSON: EOF at line 1 column 30") == "post: Invalid JSON: EOF"


def test_stats_counters_and_resume() -> None:
    stats = StepStats("0002_posts", items=10, created=4, updated=1, processed=12, seconds=2.0)
    assert stats.unchanged == 5 and stats.per_second == 6.0
    again = StepStats("0002_posts", seconds=1.0)
    again.load_counters(stats.counters())
    again.processed += 3
    assert again.items == 10 and again.resumed_items == 12 and again.per_second == 3.0
    for i in range(SAMPLE_SIZE + 5):
        stats.add_bad(BadEntry("k", f"bad at line 1 column {i}"))
    assert stats.skipped == SAMPLE_SIZE + 5 and len(stats.sample) == SAMPLE_SIZE
    assert stats.reasons == {"bad": SAMPLE_SIZE + 5}


def test_partitions_combine_into_one_step() -> None:
    a = StepStats("p", items=3, created=2, keys=1, processed=4, seconds=1.5, notes=["a"])
    b = StepStats("p", items=5, created=5, keys=2, processed=5, seconds=2.5, already_done=True)
    a.add_bad(BadEntry("k", "r"))
    total = combined("p", [a, b])
    assert (total.items, total.created, total.keys, total.processed, total.skipped) == (8, 7, 3, 9, 1)
    assert total.seconds == 2.5 and total.notes == ["a"] and not total.already_done
    assert combined("p", []).items == 0


def test_the_report_is_read_back_in_full(raw: redis.Redis, redis_db: Any) -> None:
    entries = [bad_item(f"posted_tweets:{i}", "r", f"m{i}".encode()) for i in range(1200)]
    Checkpoint(raw, "0002_posts").commit(Position(), {}, bad=entries)
    assert report_size(raw, "0002_posts") == 1200
    assert {e.key for e in iter_report(raw, "0002_posts")} == {e.key for _, e in entries}
    assert raw.exists(keys.migration_report("0002_posts"))


def test_log_progress(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="redis_client.migrate"):
        progress = LogProgress("0002_posts", 200, 50, "posts", interval=0.0)
        progress.update(50)
        progress.close()
        log_progress("x", None, 0, "accounts").close()
    assert "0002_posts: 100/200 posts (50%)" in caplog.text
    assert "x: 0 accounts" in caplog.text
    assert isinstance(terminal_progress("x", 1, 0, "posts"), LogProgress)  # stderr is no terminal here
