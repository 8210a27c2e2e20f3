"""The request protocol: requests are plain values, and ``before_first_request`` (no server)."""

from __future__ import annotations

import dataclasses

import pytest
import redis
from scripted import ScriptedDriver, run

from redis_client.core import scripts
from redis_client.core.protocol import Call, Locked, Models, Op, Pipeline, Script, Sleep, before_first_request


def test_requests_are_frozen_values() -> None:
    assert Call("get", ("k",)) == Call("get", ("k",))
    assert Script(scripts.SAVE_LINK, ["a"], ["b"]) == Script(scripts.SAVE_LINK, ["a"], ["b"])
    assert Script(scripts.SAVE_LINK, ["a"], []) != Script(scripts.SET_ACTION_TIME, ["a"], [])
    with pytest.raises(dataclasses.FrozenInstanceError):
        Call("get").name = "set"  # type: ignore[misc]
    assert Models() == Models(require=False) != Models(require=True)


def first() -> Op[None]:
    yield Call("set", ("first", "1"))


def test_first_runs_after_validation_and_before_the_first_request() -> None:
    def op() -> Op[bytes]:
        return (yield Call("get", ("k",)))

    result, driver = run(before_first_request(first(), op()), True, b"v")
    assert result == b"v"
    assert driver.requests == [Call("set", ("first", "1")), Call("get", ("k",))]


def test_first_does_not_run_when_validation_fails() -> None:
    def op() -> Op[None]:
        raise ValueError("bad input")
        yield Call("get", ("k",))

    driver = ScriptedDriver()
    with pytest.raises(ValueError, match="bad input"):
        driver.run(before_first_request(first(), op()))
    assert driver.requests == []


def test_first_does_not_run_for_an_operation_without_requests() -> None:
    def op() -> Op[int]:
        return 7
        yield Call("get", ("k",))

    result, driver = run(before_first_request(first(), op()))
    assert result == 7 and driver.requests == []


def test_errors_reach_the_operation_at_its_yield_through_the_wrapper() -> None:
    def op() -> Op[str]:
        try:
            yield Call("zadd", ("k", {"m": 1}))
        except redis.ResponseError:
            return "handled"
        return "not raised"

    result, driver = run(before_first_request(first(), op()), True, redis.ResponseError("WRONGTYPE"))
    assert result == "handled"
    assert len(driver.requests) == 2


def test_an_unhandled_error_leaves_the_wrapper() -> None:
    def op() -> Op[None]:
        yield Call("zadd", ("k", {"m": 1}))

    with pytest.raises(redis.ResponseError):
        run(before_first_request(first(), op()), True, redis.ResponseError("WRONGTYPE"))


def test_nested_requests_are_answered_in_place() -> None:
    def body() -> Op[bytes]:
        return (yield Call("get", ("k",)))

    def op() -> Op[tuple[object, object, object]]:
        return (yield Sleep(0.5)), (yield Locked("lock", 1.0, 1.0, body())), (yield Pipeline([]))

    result, driver = run(op(), b"v", [])
    assert result == (None, b"v", [])
    assert [type(r).__name__ for r in driver.requests] == ["Sleep", "Locked", "Call", "Pipeline"]
