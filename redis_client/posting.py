"""``posting_slot`` for both facades: an account's posting slot (``ops.pacing``), held for a block.

Both take the slot with one operation, ``pacing.take``; only its pauses differ: ``time.sleep``
with the sync driver, ``asyncio.sleep`` here (:func:`arun_pausing`). A caller interrupted while
taking the slot (a cancelled task, Ctrl-C) gives it back, in case the server gave it the slot
and the reply never reached it. An exception raised in the block gives the slot back too; a
cancellation there does not, since the post may have gone out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

from .core.connector import Connector
from .core.drivers import arun
from .core.protocol import Op, Sleep
from .ops import pacing

T = TypeVar("T")
log = logging.getLogger("redis_client")

#: Runs an operation to its result (``RedisDB._run``).
Run = Callable[[Op[Any]], Any]
#: Awaits an operation's result (``AsyncRedisDB._arun``).
ARun = Callable[[Op[Any]], Awaitable[Any]]


@contextmanager
def slot(run: Run, username: str, delay: float | None) -> Iterator[float]:
    """The slot, taken and given back with ``run``; yields the seconds waited."""
    seconds, token = pacing.check(username, delay), pacing.new_token()
    try:
        waited: float = run(pacing.take(username, seconds, token))
    except BaseException:
        _give_back(run, username, token)
        raise
    try:
        yield waited
    except Exception:
        _give_back(run, username, token)
        raise


@asynccontextmanager
async def aslot(take: ARun, run: ARun, username: str, delay: float | None) -> AsyncIterator[float]:
    """The slot, taken with ``take`` (:func:`arun_pausing`) and given back with ``run``."""
    seconds, token = pacing.check(username, delay), pacing.new_token()
    try:
        waited: float = await take(pacing.take(username, seconds, token))
    except BaseException:
        await _agive_back(run, username, token)
        raise
    try:
        yield waited
    except Exception:
        await _agive_back(run, username, token)
        raise


async def arun_pausing(connector: Connector, op: Op[T]) -> T:
    """``op`` on the running loop, each request in one of its in-flight places (``arun``) and each
    ``Sleep`` outside them: hundreds of waiting callers hold no place another call needs."""
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            request = op.send(result) if error is None else op.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        try:
            if isinstance(request, Sleep):
                await asyncio.sleep(request.seconds)
                result, error = None, None
            else:
                result, error = await arun(connector, _one(request)), None
        except Exception as exc:  # handed to the operation at its yield, as the drivers do
            result, error = None, exc


def _one(request: Any) -> Op[Any]:
    return (yield request)


def _give_back(run: Run, username: str, token: str) -> None:
    try:
        run(pacing.release(username, token))
    except Exception as exc:  # the reservation expires on its own
        log.warning("could not give a posting slot back (%s); it expires on its own", type(exc).__name__)


async def _agive_back(run: ARun, username: str, token: str) -> None:
    try:
        await run(pacing.release(username, token))
    except Exception as exc:  # the reservation expires on its own
        log.warning("could not give a posting slot back (%s); it expires on its own", type(exc).__name__)
