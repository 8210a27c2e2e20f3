"""``Checkpoint``: where a run stands, committed atomically with the batch's bad entries."""

from __future__ import annotations

import json
from typing import Any

import redis

from redis_client.core import keys
from redis_client.migrate.checkpoint import Checkpoint, Position
from redis_client.records.bad import bad_item


def test_a_new_checkpoint_starts_at_the_beginning(raw: redis.Redis, redis_db: Any) -> None:
    position, counters = Checkpoint(raw, "0002_posts").load()
    assert position == Position() and counters == {}


def test_commit_then_load(raw: redis.Redis, redis_db: Any) -> None:
    cp = Checkpoint(raw, "0002_posts", "ray-1-of-3")
    bad = [bad_item("posted_tweets:a", "Invalid JSON", b'{"id": "x"')]
    cp.commit(Position(cursor=17, key=b"posted_tweets:\xff", offset=250), {"items": 9, "skipped": 1},
              finished=[b"posted_tweets:a", b"posted_tweets:b"], bad=bad)
    position, counters = cp.load()
    assert position == Position(cursor=17, key=b"posted_tweets:\xff", offset=250, done=False)
    assert counters == {"items": 9, "skipped": 1}
    assert cp.done_among([b"posted_tweets:a", b"posted_tweets:c", b"posted_tweets:b"]) == [True, False, True]
    assert cp.done_among([]) == []
    (entry,) = raw.hvals(keys.migration_report("0002_posts"))
    assert json.loads(entry)["reason"] == "Invalid JSON"
    assert raw.exists(keys.migration_checkpoint("0002_posts", "ray-1-of-3"))
    assert not raw.exists(keys.migration_checkpoint("0002_posts"))  # partitions are separate


def test_a_new_page_forgets_the_keys_done_on_the_previous_one(raw: redis.Redis, redis_db: Any) -> None:
    cp = Checkpoint(raw, "m")
    cp.commit(Position(cursor=0), {}, finished=[b"k1"])
    cp.commit(Position(cursor=5), {}, finished=[b"k2"], new_page=True)
    assert cp.done_among([b"k1", b"k2"]) == [False, True]


def test_finish_and_clear(raw: redis.Redis, redis_db: Any) -> None:
    cp = Checkpoint(raw, "m")
    cp.commit(Position(cursor=3, key=b"k", offset=2), {"items": 4}, finished=[b"k0"],
              bad=[bad_item("k", "bad")])
    cp.finish({"items": 5, "created": 5})
    position, counters = cp.load()
    assert position.done and position.key is None and counters == {"items": 5, "created": 5}
    assert not raw.exists(keys.migration_done_keys("m"))
    cp.clear()
    assert cp.load() == (Position(), {})
    assert raw.hlen(keys.migration_report("m")) == 1  # the report outlives the checkpoint


def test_the_same_bad_entry_is_stored_once(raw: redis.Redis, redis_db: Any) -> None:
    """A batch written again after a crash reports its bad members again: same entry ids."""
    cp = Checkpoint(raw, "m")
    for _ in range(3):
        cp.commit(Position(), {}, bad=[bad_item("posted_tweets:a", "why", b"raw member")])
    assert raw.hlen(keys.migration_report("m")) == 1
