"""The two drivers that perform an operation's requests: redis-py sync, and redis-py asyncio.

Each feeds an operation the result of every request it yields (or raises the request's error at
the ``yield``) and returns what the operation returns. What goes to the server is decided once,
for both: :func:`invoke` is the one place a ``Call`` or a ``Script`` becomes a redis-py call (on
a client, or queued on a pipeline), and :func:`pipelined` is what a ``Pipeline`` request sends,
round trip by round trip (a second one for the scripts a restarted server no longer knows). The
drivers add only the I/O: blocking, or awaited.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator, Sequence
from dataclasses import replace
from typing import Any, TypeAlias, TypeVar

from redis.exceptions import ConnectionError, NoScriptError, ResponseError, TimeoutError

from . import cluster, durability, indexes
from .capabilities import probe
from .connector import Connector
from .protocol import (
    Call,
    Clustered,
    ForgetIndexes,
    Indexes,
    Locked,
    Models,
    Op,
    Owners,
    Pipeline,
    Primaries,
    Request,
    Script,
    Shards,
    Sleep,
)

T = TypeVar("T")

#: One round trip of a pipeline: each call, and whether to send a script's text (EVAL).
Batch: TypeAlias = list[tuple[Call | Script, bool]]


def invoke(target: Any, call: Call | Script, load: bool = False) -> Any:
    """``call`` on a redis-py client (its reply; an awaitable of it on an asyncio client) or
    pipeline (queued). A script goes by EVALSHA; with ``load``, by EVAL of its text, which the
    server then keeps."""
    match call:
        case Script(script=script, keys=keys, args=args):
            if load:
                return target.execute_command("EVAL", script.text, len(keys), *keys, *args)
            return target.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
        case Call(name=name, args=args, kwargs=kwargs):
            return getattr(target, name)(*args, **kwargs)
    raise TypeError(f"not a command: {call!r}")


def pipelined(
    calls: Sequence[Call | Script], wait: Call | None = None
) -> Generator[Batch, list[Any], list[Any]]:
    """The replies of ``calls`` sent in one pipeline: yields each round trip's batch, receives
    its replies (errors as values). Scripts the server did not know (NOSCRIPT: it restarted, or
    its script cache was flushed) are sent again with their text, in a second round trip.
    ``wait`` (``REDIS_WAIT_REPLICAS``) ends every round trip; its reply comes last."""
    tail: Batch = [(wait, False)] if wait is not None else []
    replies = list((yield [(call, False) for call in calls] + tail))
    acknowledged = replies.pop() if wait is not None else None
    unknown = [
        i
        for i, (call, reply) in enumerate(zip(calls, replies, strict=True))
        if isinstance(call, Script) and isinstance(reply, NoScriptError)
    ]
    if unknown:
        again = list((yield [(calls[i], True) for i in unknown] + tail))
        if wait is not None:
            acknowledged = durability.least(acknowledged, again.pop())
        for i, reply in zip(unknown, again, strict=True):
            replies[i] = reply
    return replies if wait is None else [*replies, acknowledged]


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
        if connector.clustered:
            plan = yield from indexes.ensure_on_primaries(connector.settings)
            if (yield from indexes.coordinated(plan)):
                yield from indexes.drop_plan(plan)
                caps = replace(caps, coordinator=True)
                connector.remember(caps)  # logs once why records are off
                if require:
                    caps.require_models(connector.describe())
                return False
            connector.index_plan = plan
        else:
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


class SyncDriver:
    """Performs requests with redis-py's sync client (blocking; thread-safe).

    ``waits``: writes wait for ``REDIS_WAIT_REPLICAS`` replicas (off for the index upkeep, which
    is no write any caller is told about).
    """

    def __init__(self, connector: Connector, waits: bool = True) -> None:
        self.connector = connector
        self.waits = waits

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
        if self.waits and (wait := durability.wait_call(request, c.settings)) is not None:
            assert isinstance(request, (Call, Script, Pipeline))
            return durability.unwrap(request, self._pipeline(durability.calls_of(request), wait), c.settings)
        match request:
            case Call() | Script() if c.clustered:  # routed and retried as a pipeline of one
                (reply,) = self._spread([request], None, isinstance(request, Call) and request.text)
                if isinstance(reply, Exception):
                    raise reply
                return reply
            case Script():
                return self._send(c.client(), request)
            case Call(text=text):
                return self._send(c.client(text), request)
            case Pipeline(calls=calls, text=text):
                return self._pipeline(calls, text=text)
            case Clustered():
                return c.clustered
            case Primaries():
                return cluster.primaries(c.client()) if c.clustered else [None]
            case Shards():
                return cluster.shards(c.client()) if c.clustered else {}
            case Owners(keys=owned):
                return cluster.owners(c.client(), owned) if c.clustered else [None] * len(owned)
            case Indexes(name=name):
                return c.index_names(name, cluster.primaries(c.client()) if c.clustered else [])
            case Models(require=require):
                known = known_models(c, require)
                if known is not None:
                    return known
                with c.models_lock:
                    return SyncDriver(c, waits=False).run(models_ready(c, require))
            case Sleep(seconds=seconds):
                time.sleep(seconds)
                return None
            case Locked(name=name, timeout=timeout, blocking_timeout=blocking, body=body):
                with c.client(True).lock(name, timeout=timeout, blocking_timeout=blocking):
                    return self.run(body)
            case ForgetIndexes():
                return c.forget_indexes()
        raise TypeError(f"unknown request {request!r}")

    @staticmethod
    def _send(client: Any, call: Call | Script) -> Any:
        try:
            return invoke(client, call)
        except NoScriptError:  # the server restarted since it last ran the script
            return invoke(client, call, load=True)

    def _pipeline(
        self, calls: Sequence[Call | Script], wait: Call | None = None, text: bool = False
    ) -> list[Any]:
        if self.connector.clustered:
            return self._spread(calls, wait, text)
        return self._on(self.connector.client(text), calls, wait)

    def _spread(self, calls: Sequence[Call | Script], wait: Call | None, text: bool = False) -> list[Any]:
        """On a cluster: one pipeline per node (see ``cluster.trips``)."""
        client: Any = self.connector.client()
        patience = self.connector.settings.startup_wait
        plan = cluster.trips(calls, wait, lambda call: cluster.node_of(client, call), patience)
        reply: Any = None
        error: Exception | None = None
        while True:
            try:
                step = plan.send(reply) if error is None else plan.throw(error)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            reply, error = None, None
            match step:
                case cluster.NodeTrip(node=node, calls=node_calls, wait=node_wait):
                    try:
                        reply = self._on(self.connector.node_client(node, text), node_calls, node_wait)
                    except (ConnectionError, TimeoutError) as exc:
                        error = exc
                case cluster.Refresh(pause=pause):
                    time.sleep(pause)
                    client.nodes_manager.initialize()

    def _on(self, client: Any, calls: Sequence[Call | Script], wait: Call | None) -> list[Any]:
        """``calls`` (then ``wait``) in one pipeline on ``client``, plus a round trip for unknown scripts."""
        if len(calls) == 1 and wait is None:  # the same entry, without a pipeline's bookkeeping
            try:
                return [self._send(client, calls[0])]
            except ResponseError as exc:
                return [exc]
        trips = pipelined(calls, wait)
        batch = next(trips)
        while True:
            pipe = client.pipeline(transaction=False)
            for call, load in batch:
                invoke(pipe, call, load)
            try:
                batch = trips.send(pipe.execute(raise_on_error=False))
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]


class AsyncDriver:
    """Performs requests with redis-py's asyncio client of the running event loop (``waits``: as
    :class:`SyncDriver`'s)."""

    def __init__(self, connector: Connector, waits: bool = True) -> None:
        self.connector = connector
        self.waits = waits

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
        if self.waits and (wait := durability.wait_call(request, c.settings)) is not None:
            assert isinstance(request, (Call, Script, Pipeline))
            replies = await self._pipeline(durability.calls_of(request), wait)
            return durability.unwrap(request, replies, c.settings)
        match request:
            case Call() | Script() if c.clustered:  # routed and retried as a pipeline of one
                text = isinstance(request, Call) and request.text
                (reply,) = await self._spread([request], None, text)
                if isinstance(reply, Exception):
                    raise reply
                return reply
            case Script():
                return await self._send(await c.async_client(), request)
            case Call(text=text):
                return await self._send(await c.async_client(text), request)
            case Pipeline(calls=calls, text=text):
                return await self._pipeline(calls, text=text)
            case Clustered():
                return c.clustered
            case Primaries():
                return cluster.primaries(await self._cluster_client()) if c.clustered else [None]
            case Shards():
                return cluster.shards(await self._cluster_client()) if c.clustered else {}
            case Owners(keys=owned):
                nodes_of = cluster.owners(await self._cluster_client(), owned) if c.clustered else None
                return nodes_of if nodes_of is not None else [None] * len(owned)
            case Indexes(name=name):
                nodes = cluster.primaries(await self._cluster_client()) if c.clustered else []
                return c.index_names(name, nodes)
            case Models(require=require):
                known = known_models(c, require)
                if known is not None:
                    return known
                async with c.loop_state().models_lock:
                    return await AsyncDriver(c, waits=False).run(models_ready(c, require))
            case Sleep(seconds=seconds):
                await asyncio.sleep(seconds)
                return None
            case Locked(name=name, timeout=timeout, blocking_timeout=blocking, body=body):
                client = await c.async_client(True)
                async with client.lock(name, timeout=timeout, blocking_timeout=blocking):
                    return await self.run(body)
            case ForgetIndexes():
                return c.forget_indexes()
        raise TypeError(f"unknown request {request!r}")

    @staticmethod
    async def _send(client: Any, call: Call | Script) -> Any:
        try:
            return await invoke(client, call)
        except NoScriptError:  # the server restarted since it last ran the script
            return await invoke(client, call, load=True)

    async def _pipeline(
        self, calls: Sequence[Call | Script], wait: Call | None = None, text: bool = False
    ) -> list[Any]:
        if self.connector.clustered:
            return await self._spread(calls, wait, text)
        return await self._on(await self.connector.async_client(text), calls, wait)

    async def _cluster_client(self) -> Any:
        """The loop's cluster client, its slot map loaded."""
        client: Any = await self.connector.async_client()
        if not client.nodes_manager.slots_cache:
            await client.initialize()
        return client

    async def _spread(
        self, calls: Sequence[Call | Script], wait: Call | None, text: bool = False
    ) -> list[Any]:
        """:meth:`SyncDriver._spread` for asyncio."""
        client = await self._cluster_client()
        patience = self.connector.settings.startup_wait
        plan = cluster.trips(calls, wait, lambda call: cluster.node_of(client, call), patience)
        reply: Any = None
        error: Exception | None = None
        while True:
            try:
                step = plan.send(reply) if error is None else plan.throw(error)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            reply, error = None, None
            match step:
                case cluster.NodeTrip(node=node, calls=node_calls, wait=node_wait):
                    try:
                        client_of_node = self.connector.async_node_client(node, text)
                        reply = await self._on(client_of_node, node_calls, node_wait)
                    except (ConnectionError, TimeoutError) as exc:
                        error = exc
                case cluster.Refresh(pause=pause):
                    await asyncio.sleep(pause)
                    await client.nodes_manager.initialize()

    async def _on(self, client: Any, calls: Sequence[Call | Script], wait: Call | None) -> list[Any]:
        """:meth:`SyncDriver._on` for asyncio."""
        if len(calls) == 1 and wait is None:  # the same entry, without a pipeline's bookkeeping
            try:
                return [await self._send(client, calls[0])]
            except ResponseError as exc:
                return [exc]
        trips = pipelined(calls, wait)
        batch = next(trips)
        while True:
            pipe = client.pipeline(transaction=False)
            for call, load in batch:
                invoke(pipe, call, load)
            try:
                batch = trips.send(await pipe.execute(raise_on_error=False))
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]


async def arun(connector: Connector, op: Op[T]) -> T:
    """Run ``op`` on the running loop, holding one of its ``max_in_flight`` places."""
    async with connector.in_flight():
        return await AsyncDriver(connector).run(op)
