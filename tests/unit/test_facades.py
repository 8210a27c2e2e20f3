"""``RedisDB`` and ``AsyncRedisDB``: the same methods with the same arguments, making the same requests.

No server: the facades run their operations on a :class:`ScriptedDriver`, so these tests check
what each method sends, not what the server does (the behaviour tests do that, for both).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import typing
from typing import Any

import pytest
from scripted import ScriptedDriver

from redis_client.aio import AsyncRedisDB
from redis_client.core.protocol import Call, Op, Script
from redis_client.db import RedisDB

T = typing.TypeVar("T")

#: Sync only: the capabilities probe (a property). Async only: closing the loop's connections.
SYNC_ONLY = {"capabilities"}
ASYNC_ONLY = {"aclose", "__aenter__", "__aexit__"}
#: Plain methods on both: ``db.r`` (a property), and item assignment (a TypeError on AsyncRedisDB).
NOT_COROUTINES = {"r", "__setitem__", "__delitem__"}
#: A context manager on ``RedisDB``, an async one on ``AsyncRedisDB`` (tested below).
CONTEXT_MANAGERS = {"posting_slot"}


#: Dunder methods that are part of the API.
DUNDERS = ("__getitem__", "__setitem__", "__delitem__", "__aenter__", "__aexit__")


def methods(cls: type) -> set[str]:
    return {n for n in vars(cls) if not n.startswith("_") or n in DUNDERS}


def test_both_facades_have_the_same_methods() -> None:
    assert methods(RedisDB) - SYNC_ONLY == methods(AsyncRedisDB) - ASYNC_ONLY


@pytest.mark.parametrize("name", sorted(methods(RedisDB) - SYNC_ONLY - NOT_COROUTINES - CONTEXT_MANAGERS))
def test_each_async_method_is_the_sync_one_as_a_coroutine(name: str) -> None:
    sync, coro = getattr(RedisDB, name), getattr(AsyncRedisDB, name)
    assert not inspect.iscoroutinefunction(sync) and inspect.iscoroutinefunction(coro)
    sync_sig, coro_sig = inspect.signature(sync), inspect.signature(coro)
    assert [(p.name, p.kind, p.default) for p in sync_sig.parameters.values()] == [
        (p.name, p.kind, p.default) for p in coro_sig.parameters.values()
    ]
    # Annotations as a type checker reads them: the coroutine returns what the method returns.
    assert typing.get_type_hints(sync) == typing.get_type_hints(coro)
    assert sync.__doc__ == coro.__doc__


class ScriptedRedisDB(RedisDB):
    """``RedisDB`` on a scripted driver; the prompt map counts as stored (no first write)."""

    def __init__(self) -> None:
        super().__init__()
        self._stored_in = os.getpid()
        self.driver = ScriptedDriver()

    def _run(self, op: Op[T]) -> T:
        return self.driver.run(op)


class ScriptedAsyncRedisDB(AsyncRedisDB):
    def __init__(self) -> None:
        super().__init__()
        self._stored_in = os.getpid()
        self.driver = ScriptedDriver()

    async def _arun(self, op: Op[T]) -> T:
        return self.driver.run(op)

    async def _arun_pausing(self, op: Op[T]) -> T:
        return self.driver.run(op)


POST = {"id": "1", "text": "hi", "sender_username": "alice", "timestamp": 1700000000}

#: One call of every method: (name, arguments, replies the server would give).
CALLS: list[tuple[str, tuple[Any, ...], list[Any]]] = [
    ("get", ("k",), [b"1"]),
    ("get", ("k", 5), [None]),
    ("__getitem__", ("k",), [b"[1]"]),
    ("set", ("k", {"a": 1}), [True]),
    ("set", ("k", None), [1]),
    ("setex", ("k", 1, 60), [True]),
    ("set_default", ("k", 2), [None, True]),
    ("delete", ("k",), [1]),
    ("parse_list", ("k",), [b'"a,b"']),
    ("get_keys_by_pattern", ("a*",), [(0, [b"a1"])]),
    ("get_keys_by_pattern_blocking", ("a*",), [[b"a1"]]),
    ("add_to_set", ("s", "v"), [1]),
    ("get_set", ("s",), [{b"v"}]),
    ("add_to_sorted_set", ("z", 1.5, "v"), [1]),
    ("get_sorted_set", ("z", 0, 5), [[b"v"]]),
    ("add_user_post", ("alice", POST), [1]),
    ("add_user_posts", ("alice", [POST]), [[1]]),
    ("get_user_posts", ("alice",), [[]]),
    ("get_user_posts_by_create_time", ("alice", 60), [[]]),
    ("add_send_partnership", ("alice", "42"), [1]),
    ("get_send_partnership", ("alice",), [[b"42"]]),
    ("get_twitter_data_keys", (), [(0, [b"twitter_data:alice"])]),
    ("get_active_twitter_accounts", (), [(0, [b"twitter_data:alice"])]),
    ("is_account_active", ("alice",), [1]),
    ("get_account_last_action_time", ("alice", "last_likes_time"), [b"12.5"]),
    ("update_account_last_action_time", ("alice", "last_likes_time", 12.5), [1]),
    ("get_function_variables", (), [True]),
    ("save_tweet_link", ("create_tweet", "99"), [1]),
]


def test_every_method_is_called_once_below() -> None:
    # wait_for_redis makes no request; remove_account's requests: test_ops_accounts.
    untested = {"wait_for_redis", "remove_account"}
    tested = methods(RedisDB) - SYNC_ONLY - NOT_COROUTINES - CONTEXT_MANAGERS - untested
    assert {name for name, _, _ in CALLS} == tested


def _comparable(request: Any) -> Any:
    if isinstance(request, Script) and request.script.name == "SAVE_LINK":
        return (request.script, request.keys[0], list(request.args))  # keys[1]: a fresh token per call
    return request


@pytest.mark.parametrize(("name", "args", "replies"), CALLS, ids=[f"{n}{a!r}" for n, a, _ in CALLS])
def test_both_facades_make_the_same_requests_and_return_the_same(
    name: str, args: tuple[Any, ...], replies: list[Any]
) -> None:
    sync, coro = ScriptedRedisDB(), ScriptedAsyncRedisDB()
    sync.driver.replies.extend(replies)
    coro.driver.replies.extend(replies)
    got_sync = getattr(sync, name)(*args)
    got_async = asyncio.run(getattr(coro, name)(*args))
    assert got_sync == got_async
    assert sync.driver.requests, "every method here makes a request"
    assert [_comparable(r) for r in sync.driver.requests] == [_comparable(r) for r in coro.driver.requests]
    sync.driver.done()
    coro.driver.done()


def test_item_assignment_is_the_sync_facades_only() -> None:
    sync, coro = ScriptedRedisDB(), ScriptedAsyncRedisDB()
    sync.driver.replies.extend([True, 1])
    sync["k"] = 1
    del sync["k"]
    assert sync.driver.requests == [Call("set", ("k", "1"), {"keepttl": False}), Call("delete", ("k",))]
    with pytest.raises(TypeError, match="await db.set"):
        coro["k"] = 1
    with pytest.raises(TypeError, match="await db.delete"):
        del coro["k"]


# --- posting_slot: ``with`` on RedisDB, ``async with`` on AsyncRedisDB ---


def test_posting_slot_has_the_same_arguments_on_both() -> None:
    sync, coro = inspect.signature(RedisDB.posting_slot), inspect.signature(AsyncRedisDB.posting_slot)
    assert [(p.name, p.kind, p.default) for p in sync.parameters.values()] == [
        (p.name, p.kind, p.default) for p in coro.parameters.values()
    ]
    assert RedisDB.posting_slot.__doc__ == AsyncRedisDB.posting_slot.__doc__.replace("async with", "with")


def _post_fails_in_slot(db: Any) -> float:
    with pytest.raises(RuntimeError, match="post failed"), db.posting_slot("alice", 2) as waited:
        raise RuntimeError("post failed")
    return float(waited)


async def _apost_fails_in_slot(db: Any) -> float:
    with pytest.raises(RuntimeError, match="post failed"):
        async with db.posting_slot("alice", 2) as waited:
            raise RuntimeError("post failed")
    return float(waited)


def _tokenless(request: Any) -> Any:
    assert isinstance(request, Script)
    return (request.script.name, list(request.keys), [a for a in request.args if not isinstance(a, str)])


def test_posting_slot_makes_the_same_requests_on_both() -> None:
    # Told to wait 1.5 s, then the slot; the block fails: the slot is given back.
    sync, coro = ScriptedRedisDB(), ScriptedAsyncRedisDB()
    for db in (sync, coro):
        db.driver.replies.extend([1_500_000, 0, 1])
    assert _post_fails_in_slot(sync) == asyncio.run(_apost_fails_in_slot(coro)) == 1.5
    assert [type(r).__name__ for r in sync.driver.requests] == ["Script", "Sleep", "Script", "Script"]
    assert [_tokenless(r) for r in sync.driver.sent()] == [_tokenless(r) for r in coro.driver.sent()]
    sync.driver.done()
    coro.driver.done()
