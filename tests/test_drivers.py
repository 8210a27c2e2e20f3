"""The two drivers on the embedded server: every kind of request, errors at the ``yield``, NOSCRIPT.

Each test runs once with ``SyncDriver`` and once with ``AsyncDriver`` (on its own event loop):
what an operation gets back must not depend on the driver.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from redis.exceptions import NoScriptError

from redis_client.core import scripts
from redis_client.core.connector import Connector
from redis_client.core.drivers import AsyncDriver, SyncDriver, arun, invoke, pipelined
from redis_client.core.protocol import Call, ForgetIndexes, Locked, Models, Op, Pipeline, Script, Sleep
from redis_client.core.settings import RedisSettings

Runner = Callable[[Op[Any]], Any]


@pytest.fixture
def connector(redis_db: Any, redis_settings: RedisSettings) -> Connector:
    """A connector of its own on the flushed test server."""
    return Connector(redis_settings)


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest, connector: Connector) -> Iterator[Runner]:
    """``run(op)``: the operation performed by one of the two drivers."""
    if request.param == "sync":
        yield SyncDriver(connector).run
        return
    loop = asyncio.new_event_loop()
    yield lambda op: loop.run_until_complete(arun(connector, op))
    loop.run_until_complete(connector.aclose())
    loop.close()


def test_a_call_is_the_redis_py_method_of_that_name(run: Runner, raw: redis.Redis) -> None:
    def op() -> Op[tuple[Any, Any]]:
        yield Call("zadd", ("z", {"a": 1, "b": 2}))
        as_bytes = yield Call("zrange", ("z", 0, -1), {"withscores": True})
        as_text = yield Call("get", ("missing",), text=True)
        yield Call("set", ("t", "é"))
        return as_bytes, (as_text, (yield Call("get", ("t",), text=True)))

    assert run(op()) == ([(b"a", 1.0), (b"b", 2.0)], (None, "é"))
    assert raw.zcard("z") == 2


def test_a_script_runs_by_its_sha_and_by_its_text_once_the_server_forgot_it(
    run: Runner, raw: redis.Redis
) -> None:
    def save(token: str) -> Op[Any]:
        return (yield Script(scripts.SAVE_LINK, ["created_tweet:f", token], ["link", 60]))

    assert run(save("t1")) == 1
    assert raw.script_exists(scripts.SAVE_LINK.sha) == [True]
    raw.script_flush()  # as after a restart: EVALSHA gets NOSCRIPT, the text goes instead
    assert run(save("t2")) == 2
    assert raw.script_exists(scripts.SAVE_LINK.sha) == [True]
    assert raw.lrange("created_tweet:f", 0, -1) == [b"link", b"link"]


def test_a_pipeline_gives_one_entry_per_call_errors_included(run: Runner, raw: redis.Redis) -> None:
    raw.set("s", "x")
    raw.script_flush()
    calls = [
        Call("set", ("a", "1")),
        Call("zadd", ("s", {"m": 1})),  # WRONGTYPE: an entry, not an exception
        Script(scripts.SAVE_LINK, ["created_tweet:g", "tok"], ["link", 60]),  # NOSCRIPT, then EVAL
        Call("get", ("a",)),
    ]

    def op() -> Op[list[Any]]:
        return (yield Pipeline(calls))

    ok, wrongtype, saved, value = run(op())
    assert ok is True and saved == 1 and value == b"1"
    assert isinstance(wrongtype, redis.ResponseError) and "WRONGTYPE" in str(wrongtype)


def test_a_pipeline_of_one_call_gives_the_same_entry(run: Runner, raw: redis.Redis) -> None:
    raw.set("s", "x")

    def op() -> Op[list[Any]]:
        return (yield Pipeline([Call("zadd", ("s", {"m": 1}))]))

    [entry] = run(op())
    assert isinstance(entry, redis.ResponseError) and "WRONGTYPE" in str(entry)


def test_a_request_error_is_raised_at_its_yield(run: Runner, raw: redis.Redis) -> None:
    raw.set("s", "x")

    def op() -> Op[str]:
        try:
            yield Call("zadd", ("s", {"m": 1}))
        except redis.ResponseError as exc:
            assert "WRONGTYPE" in str(exc)
            return "handled"
        return "not raised"

    assert run(op()) == "handled"


def test_an_error_the_operation_does_not_handle_reaches_the_caller(run: Runner, raw: redis.Redis) -> None:
    raw.set("s", "x")

    def op() -> Op[None]:
        yield Call("zadd", ("s", {"m": 1}))

    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        run(op())


def test_models_is_answered_once_the_indexes_are_ready(run: Runner, connector: Connector) -> None:
    def op() -> Op[tuple[Any, Any]]:
        return (yield Models()), (yield Models(require=True))

    assert run(op()) == (True, True)
    assert connector.capabilities is not None and connector.capabilities.models
    assert connector.indexes_ready

    def forget() -> Op[Any]:
        yield ForgetIndexes()
        return connector.indexes_ready

    assert run(forget()) is False


def test_sleep_and_locked_body(run: Runner, raw: redis.Redis) -> None:
    def body() -> Op[bool]:
        return bool((yield Call("exists", ("lock:x",))))

    def op() -> Op[tuple[bool, float]]:
        started = time.monotonic()
        yield Sleep(0.01)
        held = yield Locked("lock:x", 5.0, 1.0, body())
        return held, time.monotonic() - started

    held, took = run(op())
    assert held is True and took >= 0.01
    assert raw.exists("lock:x") == 0  # released after the body


def test_an_unknown_request_is_a_type_error(run: Runner) -> None:
    def op() -> Op[Any]:
        return (yield "PING")

    with pytest.raises(TypeError, match="unknown request"):
        run(op())


def test_invoke_runs_on_a_client_and_queues_on_a_pipeline(raw: redis.Redis) -> None:
    assert invoke(raw, Call("set", ("k", "v"))) is True
    pipe = raw.pipeline(transaction=False)
    invoke(pipe, Call("get", ("k",)))
    invoke(pipe, Script(scripts.SAVE_LINK, ["created_tweet:h", "t"], ["l", 60]), load=True)
    assert pipe.execute() == [b"v", 1]
    assert invoke(raw, Script(scripts.SAVE_LINK, ["created_tweet:h", "t2"], ["l", 60])) == 2
    with pytest.raises(TypeError):
        invoke(raw, Sleep(1))  # type: ignore[arg-type]


def test_drivers_are_built_on_a_connector(connector: Connector) -> None:
    assert SyncDriver(connector).connector is connector
    assert AsyncDriver(connector).connector is connector


# --- pipelined: what a Pipeline request sends, round trip by round trip (no server) ---


def test_pipelined_sends_every_call_once_when_the_server_knows_the_scripts() -> None:
    calls = [Call("get", ("a",)), Script(scripts.SAVE_LINK, ["k", "t"], ["l", 1])]
    trips = pipelined(calls)
    assert next(trips) == [(calls[0], False), (calls[1], False)]
    with pytest.raises(StopIteration) as done:
        trips.send([b"1", 2])
    assert done.value.value == [b"1", 2]


def test_pipelined_sends_the_text_of_the_scripts_the_server_did_not_know() -> None:
    calls = [
        Script(scripts.SAVE_LINK, ["k", "t"], ["l", 1]),
        Call("get", ("a",)),
        Script(scripts.ADD_POSTS, ["z"], ['"u"', "1"]),
    ]
    trips = pipelined(calls)
    next(trips)
    unknown = NoScriptError("NOSCRIPT No matching script")
    # A NOSCRIPT entry of a plain call is the call's own reply, not a script to send again.
    second = trips.send([unknown, NoScriptError("not a script"), unknown])
    assert second == [(calls[0], True), (calls[2], True)]
    with pytest.raises(StopIteration) as done:
        trips.send([1, 0])
    assert done.value.value[0] == 1 and done.value.value[2] == 0
    assert isinstance(done.value.value[1], NoScriptError)
