"""Index management without a server: checks, rebuilds under the lock, waits, drops."""

from __future__ import annotations

import pytest
import redis
from scripted import run

from redis_client.core import indexes, keys
from redis_client.core.indexes import IndexSpec
from redis_client.core.protocol import Call, Locked, Sleep

SPEC = IndexSpec("idx", "Thing", lambda settings: ["ON", "JSON", "SCHEMA", "$.a", "AS", "a", "TAG"])
HASH = SPEC.schema_hash()
STORED = Call("get", (keys.schema_hash_key("idx"),), text=True)
INFO = Call("execute_command", ("FT.INFO", "idx"), text=True)
IDLE = ["indexing", "0", "num_docs", "3"]


def test_an_index_up_to_date_is_left_alone() -> None:
    built, driver = run(indexes.ensure_index(SPEC), HASH, IDLE)
    assert built is False
    assert driver.requests == [STORED, INFO]  # the schema hash, the index exists: nothing else


def test_a_missing_index_is_created_under_the_lock_then_waited_for() -> None:
    unknown = redis.ResponseError("Unknown index name")
    built, driver = run(
        indexes.ensure_index(SPEC),
        None,  # no schema hash: outdated
        None,  # again under the lock
        unknown,  # FT.INFO: no index to drop
        "OK",  # FT.CREATE
        True,  # SET schema hash
        ["indexing", "1"],
        ["indexing", "0"],
    )
    assert built is True
    assert isinstance(driver.requests[0], Call) and isinstance(driver.requests[1], Locked)
    locked = driver.requests[1]
    assert locked.name == keys.schema_lock_key("idx")
    create = Call("execute_command", ("FT.CREATE", "idx", *SPEC.schema(None)), text=True)
    assert create in driver.requests
    assert Call("set", (keys.schema_hash_key("idx"), HASH), text=True) in driver.requests
    assert driver.requests[-3:] == [INFO, Sleep(0.05), INFO]


def test_a_changed_schema_drops_the_index_but_not_the_records() -> None:
    built, driver = run(indexes.ensure_index(SPEC), "old", "old", IDLE, "OK", "OK", True, IDLE)
    assert built is True
    assert Call("execute_command", ("FT.DROPINDEX", "idx"), text=True) in driver.requests
    assert all("DD" not in getattr(r, "args", ()) for r in driver.requests)  # the records stay


def test_another_process_built_it_while_this_one_waited_for_the_lock() -> None:
    built, driver = run(indexes.ensure_index(SPEC), None, HASH, IDLE, IDLE)
    assert built is False
    assert not any(getattr(r, "args", ("",))[0] == "FT.CREATE" for r in driver.requests)


def test_index_exists_maps_only_the_missing_index_errors() -> None:
    assert run(indexes.index_exists("idx"), redis.ResponseError("idx: no such index"))[0] is False
    with pytest.raises(redis.ResponseError, match="NOPERM"):
        run(indexes.index_exists("idx"), redis.ResponseError("NOPERM this user has no permissions"))


def test_outdated_lists_missing_or_changed_indexes_without_writing() -> None:
    other = IndexSpec("other", "Other", lambda settings: ["SCHEMA", "$.b", "AS", "b", "TAG"])
    names, driver = run(indexes.outdated([SPEC, other]), HASH, IDLE, "stale")
    assert names == ["other"]
    assert all(r.name in ("get", "execute_command") for r in driver.requests)  # type: ignore[union-attr]


def test_drop_indexes_drops_existing_ones_and_their_hashes() -> None:
    _, driver = run(indexes.drop_indexes([SPEC]), IDLE, "OK", 1)
    assert driver.requests == [
        INFO,
        Call("execute_command", ("FT.DROPINDEX", "idx"), text=True),
        Call("delete", (keys.schema_hash_key("idx"),), text=True),
    ]


def test_the_schema_hash_follows_the_settings() -> None:
    from redis_client.core.settings import load_settings
    from redis_client.models.post import Post

    spec = Post.index_spec()
    assert spec.schema_hash(load_settings(full_text_search=False)) != spec.schema_hash(load_settings())


PLAN = {"idx": {"a:1": "idx{x}", "b:1": "idx{y}"}}
LIST_A = Call("execute_command", ("FT._LIST",), node="a:1")
LIST_B = Call("execute_command", ("FT._LIST",), node="b:1")


def test_per_primary_indexes_each_on_their_own_node_mean_no_coordinator() -> None:
    found, driver = run(indexes.coordinated(PLAN), [b"idx{x}", b"orphan{z}"], [b"idx{y}"])
    assert found is False
    assert driver.requests == [LIST_A, LIST_B]


def test_an_index_listed_by_another_primary_means_a_coordinator() -> None:
    found, driver = run(indexes.coordinated(PLAN), [b"idx{x}", b"idx{y}"])
    assert found is True
    assert driver.requests == [LIST_A]  # the first primary listing another's index is enough


def test_one_primary_cannot_tell_and_asks_nothing() -> None:
    found, driver = run(indexes.coordinated({"idx": {"a:1": "idx{x}"}}))
    assert found is False and driver.requests == []


def test_drop_plan_drops_each_index_on_its_node_and_ignores_one_already_gone() -> None:
    _, driver = run(indexes.drop_plan(PLAN), "OK", redis.ResponseError("Unknown Index name"))
    assert driver.requests == [
        Call("execute_command", ("FT.DROPINDEX", "idx{x}"), node="a:1"),
        Call("execute_command", ("FT.DROPINDEX", "idx{y}"), node="b:1"),
    ]
