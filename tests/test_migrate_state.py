"""``state``: the applied set (redis-om's key), checkpoints across partitions, deleting state."""

from __future__ import annotations

from typing import Any

import redis

from redis_client.core import keys
from redis_client.migrate import state
from redis_client.migrate.checkpoint import Checkpoint, Position
from redis_client.records.bad import bad_item


def test_applied_set(raw: redis.Redis, redis_db: Any) -> None:
    assert state.applied(raw) == set()
    state.mark_applied(raw, "0001_indexes")
    state.mark_applied(raw, "0002_posts")
    state.mark_unapplied(raw, "0001_indexes")
    assert state.applied(raw) == {"0002_posts"}
    assert raw.smembers(keys.APPLIED_MIGRATIONS) == {b"0002_posts"}


def test_checkpoints_of_every_partition(raw: redis.Redis, redis_db: Any) -> None:
    assert not state.has_state(raw, "m*")
    for partition, items in (("scan", 1), ("ray-0-of-2", 10), ("ray-1-of-2", 100)):
        Checkpoint(raw, "m*", partition).commit(Position(), {"items": items})
    Checkpoint(raw, "m*", "ray-1-of-2").finish({"items": 100})
    Checkpoint(raw, "other", "scan").commit(Position(), {"items": 5}, bad=[bad_item("k", "r")])
    assert sorted(c.partition for c in state.checkpoints(raw, "m*")) == ["ray-0-of-2", "ray-1-of-2", "scan"]
    assert state.counters(raw, "m*") == {"items": 111}  # "other" (and glob characters) kept apart
    assert state.has_state(raw, "m*") and state.has_state(raw, "other")

    assert state.reset_finished(raw, "m*") == 1  # only the finished partition starts over
    assert state.counters(raw, "m*") == {"items": 11}

    deleted = state.forget(raw, "m*")
    assert deleted == 2 and not state.has_state(raw, "m*") and state.has_state(raw, "other")


def test_delete_matching_by_type(raw: redis.Redis, redis_db: Any) -> None:
    for i in range(2500):
        raw.execute_command("JSON.SET", keys.model_key("thing", str(i)), "$", "{}")
    raw.set(keys.model_key("thing", "plain"), "not a record")
    assert state.delete_matching(raw, keys.model_pattern("thing"), "ReJSON-RL") == 2500
    assert raw.get(keys.model_key("thing", "plain")) == b"not a record"
