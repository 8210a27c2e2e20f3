"""The two drivers that perform an operation's requests: redis-py sync, and redis-py asyncio.

Each feeds an operation the result of every request it yields (or raises the request's error at
the ``yield``) and returns what the operation returns. Operations, keys, scripts and validation
are shared; the drivers (with the connector's sync and asyncio clients) are the I/O.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, TypeVar

from redis.exceptions import NoScriptError, ResponseError

from . import indexes
from .capabilities import probe
from .connector import Connector
from .protocol import (
    Call,
    CurrentSettings,
    ForgetIndexes,
    Locked,
    Models,
    Op,
    Pipeline,
    Request,
    Script,
    Sleep,
)

T = TypeVar("T")


def models_ready(connector: Connector, require: bool) -> Op[bool]:
    """Whether model records can be used; prepares the indexes on the process's first yes."""
    caps = connector.capabilities
    if caps is None:
        caps = yield from probe(connector.database)
        connector.remember(caps)
    if not caps.models:
        if require:
            caps.require_models(connector.describe())
        return False
    if not connector.indexes_ready:
        yield from indexes.ensure_registered(connector.settings)
        connector.indexes_ready = True
    return True


def known_models(connector: Connector, require: bool) -> bool | None:
    """The answer to ``Models`` without any work, when it is already known (else None)."""
    caps = connector.capabilities
    if caps is None:
        return None
    if caps.models:
        return True if connector.indexes_ready else None
    return None if require else False


def _evalsha_args(call: Script) -> tuple[Any, ...]:
    return (call.script.sha, len(call.keys), *call.keys, *call.args)


def _scripts_to_rerun(calls: Sequence[Call | Script], results: list[Any]) -> list[int]:
    """Script calls a pipeline sent by EVALSHA that found the script cache empty (a restart)."""
    return [
        i
        for i, (call, result) in enumerate(zip(calls, results, strict=True))
        if isinstance(call, Script) and isinstance(result, NoScriptError)
    ]


class SyncDriver:
    """Performs requests with redis-py's sync client (blocking; thread-safe)."""

    def __init__(self, connector: Connector) -> None:
        self.connector = connector

    def run(self, op: Op[T]) -> T:
        result: Any = None
        error: BaseException | None = None
        while True:
            try:
                request = op.send(result) if error is None else op.throw(error)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            try:
                result, error = self.perform(request), None
            except Exception as exc:  # handed to the operation at its yield
                result, error = None, exc

    def perform(self, request: Request) -> Any:
        c = self.connector
        if isinstance(request, Call):
            return getattr(c.client(request.text), request.name)(*request.args, **request.kwargs)
        if isinstance(request, Script):
            return c.script(request.script)(keys=request.keys, args=request.args)
        if isinstance(request, Pipeline):
            return self._pipeline(request)
        if isinstance(request, Models):
            known = known_models(c, request.require)
            if known is not None:
                return known
            with c.models_lock:
                return self.run(models_ready(c, request.require))
        if isinstance(request, Sleep):
            time.sleep(request.seconds)
            return None
        if isinstance(request, Locked):
            lock = c.client(True).lock(
                request.name, timeout=request.timeout, blocking_timeout=request.blocking_timeout
            )
            with lock:
                return self.run(request.body)
        if isinstance(request, ForgetIndexes):
            return c.forget_indexes()
        if isinstance(request, CurrentSettings):
            return c.settings
        raise TypeError(f"unknown request {request!r}")

    def _pipeline(self, request: Pipeline) -> list[Any]:
        if len(request.calls) == 1:  # one call: the same entry, without a pipeline's bookkeeping
            try:
                return [self.perform(request.calls[0])]
            except ResponseError as exc:
                return [exc]
        c = self.connector
        pipe = c.client().pipeline(transaction=False)
        for call in request.calls:
            if isinstance(call, Call):
                getattr(pipe, call.name)(*call.args, **call.kwargs)
            else:
                pipe.evalsha(*_evalsha_args(call))
        results = list(pipe.execute(raise_on_error=False))
        for i in _scripts_to_rerun(request.calls, results):
            try:
                results[i] = self.perform(request.calls[i])  # redis-py's Script loads it
            except ResponseError as exc:
                results[i] = exc
        return results


class AsyncDriver:
    """Performs requests with redis-py's asyncio client of the running event loop."""

    def __init__(self, connector: Connector) -> None:
        self.connector = connector

    async def run(self, op: Op[T]) -> T:
        result: Any = None
        error: BaseException | None = None
        while True:
            try:
                request = op.send(result) if error is None else op.throw(error)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            try:
                result, error = await self.perform(request), None
            except Exception as exc:  # handed to the operation at its yield
                result, error = None, exc

    async def perform(self, request: Request) -> Any:
        c = self.connector
        if isinstance(request, Call):
            client = await c.async_client(request.text)
            return await getattr(client, request.name)(*request.args, **request.kwargs)
        if isinstance(request, Script):
            await c.async_client()
            return await c.async_script(request.script)(keys=request.keys, args=request.args)
        if isinstance(request, Pipeline):
            return await self._pipeline(request)
        if isinstance(request, Models):
            known = known_models(c, request.require)
            if known is not None:
                return known
            async with c.loop_state().models_lock:
                return await self.run(models_ready(c, request.require))
        if isinstance(request, Sleep):
            await asyncio.sleep(request.seconds)
            return None
        if isinstance(request, Locked):
            client = await c.async_client(True)
            lock = client.lock(
                request.name, timeout=request.timeout, blocking_timeout=request.blocking_timeout
            )
            async with lock:
                return await self.run(request.body)
        if isinstance(request, ForgetIndexes):
            return c.forget_indexes()
        if isinstance(request, CurrentSettings):
            return c.settings
        raise TypeError(f"unknown request {request!r}")

    async def _pipeline(self, request: Pipeline) -> list[Any]:
        if len(request.calls) == 1:  # one call: the same entry, without a pipeline's bookkeeping
            try:
                return [await self.perform(request.calls[0])]
            except ResponseError as exc:
                return [exc]
        c = self.connector
        pipe = (await c.async_client()).pipeline(transaction=False)
        for call in request.calls:
            if isinstance(call, Call):
                getattr(pipe, call.name)(*call.args, **call.kwargs)
            else:
                pipe.evalsha(*_evalsha_args(call))
        results = list(await pipe.execute(raise_on_error=False))
        for i in _scripts_to_rerun(request.calls, results):
            try:
                results[i] = await self.perform(request.calls[i])  # redis-py's Script loads it
            except ResponseError as exc:
                results[i] = exc
        return results


async def arun(connector: Connector, op: Op[T]) -> T:
    """Run ``op`` on the running loop, holding one of its ``max_in_flight`` places."""
    async with connector.in_flight():
        return await AsyncDriver(connector).run(op)
