"""The posting slot's operations and their ``posting_slot`` wrappers, on a scripted driver (no server:
``tests/test_pacing*.py`` run the script against real processes)."""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

import pytest
import redis
from conftest import HOSTILE_USERNAMES
from scripted import ScriptedDriver, run

from redis_client import posting
from redis_client.core import keys, scripts
from redis_client.core.errors import InvalidArgumentError, InvalidArgumentTypeError, InvalidUsernameError
from redis_client.core.protocol import Op, Script, Sleep
from redis_client.core.slots import slot_of
from redis_client.ops import pacing

# --- arguments ---


@pytest.mark.parametrize("delay", [0, 0.5, 2, 600.25])
def test_a_delay_is_seconds(delay: float) -> None:
    assert pacing.check("alice", delay) == delay


def test_no_delay_draws_whole_seconds_between_5_and_10_minutes() -> None:
    drawn = {pacing.check("alice", None) for _ in range(200)}
    assert all(d.is_integer() and 300 <= d <= 600 for d in drawn) and len(drawn) > 20


@pytest.mark.parametrize("delay", ["2", True, [1], b"1"])
def test_a_delay_that_is_not_a_number_is_refused(delay: Any) -> None:
    with pytest.raises(InvalidArgumentTypeError, match="delay"):
        pacing.check("alice", delay)


@pytest.mark.parametrize("delay", [-1, -0.001, math.nan, math.inf])
def test_a_negative_or_infinite_delay_is_refused(delay: float) -> None:
    with pytest.raises(InvalidArgumentError, match="delay"):
        pacing.check("alice", delay)


@pytest.mark.parametrize("username", ["", None, 3])
def test_an_unusable_username_is_refused(username: Any) -> None:
    with pytest.raises(InvalidUsernameError):
        pacing.check(username, 1)


def test_bad_arguments_make_no_request() -> None:
    driver = ScriptedDriver()
    with pytest.raises(InvalidArgumentError), posting.slot(driver.run, "alice", -1):
        pass
    assert driver.requests == []


# --- the reservation key and the script's arguments ---


@pytest.mark.parametrize("username", ["alice", *HOSTILE_USERNAMES])
def test_the_reservation_lives_in_the_slot_of_the_accounts_posts(username: str) -> None:
    key = keys.posting_slot(username)
    assert key.startswith("redis_client_om:posting:{") and key.endswith("}" + username)
    assert slot_of(key) == slot_of(keys.posted_tweets(username))


def test_the_next_slot_comes_delay_and_a_small_margin_after_the_last() -> None:
    assert pacing.spacing(0) == 0
    assert pacing.spacing(1) == pytest.approx(1.05)
    assert pacing.spacing(2) == pytest.approx(2.1)
    assert pacing.spacing(300) == pytest.approx(300.1)  # never more than 100 ms


def test_the_reservation_lives_ten_minutes_or_its_spacing() -> None:
    assert pacing.lifetime_ms(0) == pacing.lifetime_ms(2) == 600_000
    assert pacing.lifetime_ms(3600) == 3_600_100


def test_one_attempt_sends_the_delays_in_microseconds() -> None:
    wait, driver = run(pacing.reserve("alice", 2, "t1"), 1_250_000)
    assert wait == 1.25
    (request,) = driver.sent()
    assert isinstance(request, Script) and request.script is scripts.POSTING_RESERVE
    assert list(request.keys) == [keys.posted_tweets("alice"), keys.posting_slot("alice")]
    assert list(request.args) == [2_000_000, 2_100_000, "t1", 600_000]


# --- taking the slot ---


def test_a_free_slot_is_taken_at_once() -> None:
    waited, driver = run(pacing.take("alice", 2, "t1"), 0)
    assert waited == 0.0 and len(driver.requests) == 1


def test_a_waiter_pauses_as_long_as_told_and_asks_again() -> None:
    waited, driver = run(pacing.take("alice", 2, "t1"), 2_000_000, 400, 0)
    assert waited == pytest.approx(2.0004)
    sleeps = [r.seconds for r in driver.requests if isinstance(r, Sleep)]
    assert sleeps == [2.0, 0.0004]
    tokens = {r.args[2] for r in driver.sent() if isinstance(r, Script)}
    assert tokens == {"t1"}  # every attempt is the same call


@pytest.mark.parametrize(("reply", "released"), [(1, True), (0, False)])
def test_release_names_the_token(reply: int, released: bool) -> None:
    result, driver = run(pacing.release("alice", "t1"), reply)
    assert result is released
    assert driver.sent() == [Script(scripts.POSTING_RELEASE, (keys.posting_slot("alice"),), ("t1",))]


# --- posting_slot: what is given back, and when ---


def _names(driver: ScriptedDriver) -> list[str]:
    return [r.script.name for r in driver.sent() if isinstance(r, Script)]


def _tokens(driver: ScriptedDriver) -> set[str]:
    return {str(r.args[-1] if r.script is scripts.POSTING_RELEASE else r.args[2])
            for r in driver.sent() if isinstance(r, Script)}


def test_a_post_that_went_out_keeps_its_slot() -> None:
    driver = ScriptedDriver([0])
    with posting.slot(driver.run, "alice", 2) as waited:
        assert waited == 0.0
    assert _names(driver) == ["POSTING_RESERVE"]


def test_a_post_that_failed_gives_its_slot_back() -> None:
    driver = ScriptedDriver([0, 1])
    with pytest.raises(ValueError, match="rejected"), posting.slot(driver.run, "alice", 2):
        raise ValueError("rejected")
    assert _names(driver) == ["POSTING_RESERVE", "POSTING_RELEASE"] and len(_tokens(driver)) == 1


def test_an_interrupted_post_keeps_its_slot() -> None:
    # Ctrl-C (or a cancelled task) in the block: the post may have gone out.
    driver = ScriptedDriver([0])
    with pytest.raises(KeyboardInterrupt), posting.slot(driver.run, "alice", 2):
        raise KeyboardInterrupt
    assert _names(driver) == ["POSTING_RESERVE"]


def test_a_caller_whose_reply_was_lost_gives_back_the_slot_it_may_have_got() -> None:
    driver = ScriptedDriver([redis.ConnectionError("reply lost"), 1])
    with pytest.raises(redis.ConnectionError), posting.slot(driver.run, "alice", 2):
        pytest.fail("the block must not run")
    assert _names(driver) == ["POSTING_RESERVE", "POSTING_RELEASE"] and len(_tokens(driver)) == 1


def test_a_give_back_that_fails_is_logged_and_the_post_error_raised(caplog: pytest.LogCaptureFixture) -> None:
    driver = ScriptedDriver([0, redis.ConnectionError("down")])
    with (
        caplog.at_level(logging.WARNING, "redis_client"),
        pytest.raises(ValueError, match="rejected"),
        posting.slot(driver.run, "alice", 2),
    ):
        raise ValueError("rejected")
    assert "expires on its own" in caplog.text and "alice" not in caplog.text


def _async_runs(driver: ScriptedDriver) -> tuple[Any, Any]:
    async def take(op: Op[Any]) -> Any:
        return driver.run(op)

    return take, take


def test_an_async_post_that_failed_gives_its_slot_back() -> None:
    driver = ScriptedDriver([300_000, 0, 1])

    async def scenario() -> float:
        with pytest.raises(ValueError, match="rejected"):
            async with posting.aslot(*_async_runs(driver), "alice", 2) as waited:
                raise ValueError("rejected")
        return float(waited)

    assert asyncio.run(scenario()) == 0.3
    assert _names(driver) == ["POSTING_RESERVE", "POSTING_RESERVE", "POSTING_RELEASE"]
    assert len(_tokens(driver)) == 1


def test_a_task_cancelled_while_taking_the_slot_gives_back_what_it_may_have_got() -> None:
    driver = ScriptedDriver([1])

    async def cancelled(op: Op[Any]) -> Any:
        raise asyncio.CancelledError  # as when cancelled while the reply is on its way

    async def give_back(op: Op[Any]) -> Any:
        return driver.run(op)

    async def scenario() -> None:
        async with posting.aslot(cancelled, give_back, "alice", 2):
            pytest.fail("the block must not run")

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(scenario())
    assert _names(driver) == ["POSTING_RELEASE"]
