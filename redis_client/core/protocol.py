"""The requests an operation makes, so that one operation serves the sync and the asyncio API.

An operation is a generator: it validates its input, then yields requests (a command, a script
call, a pipeline, a pause...) and receives each one's result, or has the error raised at its
``yield``. It returns its result. It does no I/O of its own: a driver
(``redis_client.core.drivers``) performs the requests with redis-py's sync or asyncio client.
Key layout, scripts, validation and parsing are therefore written once.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypeVar

from .scripts import LuaScript

T = TypeVar("T")

#: A generator of requests that returns a ``T``.
Op: TypeAlias = Generator["Request", Any, T]


@dataclass(frozen=True, slots=True)
class Call:
    """One redis-py command method, e.g. ``Call("zrange", (key, 0, -1))``; the result as redis-py
    returns it. ``text`` picks the client that decodes replies to str (the models use it).
    ``node``: on a cluster, the node (``host:port``, from :class:`Primaries`) it goes to whatever
    its keys (a command without keys, or one per primary); ignored on one server."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    text: bool = False
    node: str | None = None


@dataclass(frozen=True, slots=True)
class Script:
    """A call of one of ``redis_client.core.scripts``' Lua scripts (EVALSHA; its text on NOSCRIPT)."""

    script: LuaScript
    keys: Sequence[Any]
    args: Sequence[Any]


@dataclass(frozen=True, slots=True)
class Pipeline:
    """Calls sent in one round trip (no MULTI; on a cluster, one per node), on the bytes client
    (``text``: the decoding one); the result is one entry per call, the call's result or the
    ``redis.ResponseError`` it got. Connection errors are raised."""

    calls: Sequence[Call | Script]
    text: bool = False


@dataclass(frozen=True, slots=True)
class Sleep:
    """Pause (``time.sleep`` or ``asyncio.sleep``)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Locked:
    """Run ``body`` while holding redis-py's ``Lock`` named ``name``; the body's result."""

    name: str
    timeout: float
    blocking_timeout: float
    body: Op[Any]


@dataclass(frozen=True, slots=True)
class Models:
    """Whether model records can be used on this server (the JSON and search modules on database
    0); on the first ``True`` of a process the indexes are made ready. ``require`` raises
    ``ModuleMissingError`` instead of answering ``False``."""

    require: bool = False


@dataclass(frozen=True, slots=True)
class ForgetIndexes:
    """The indexes vanished (FLUSHALL, a server restarted empty): check them again on next use."""


@dataclass(frozen=True, slots=True)
class Clustered:
    """Whether the server is a Redis Cluster: an operation whose keys lie in several slots then
    writes them as single-slot steps."""


@dataclass(frozen=True, slots=True)
class Primaries:
    """The nodes that serve the data, for a command each must run: ``[None]`` on one server, the
    primaries' ``host:port`` on a cluster (as the client's slot map has them now)."""


@dataclass(frozen=True, slots=True)
class Shards:
    """On a cluster, each primary (``host:port``) with the slots it serves, as the client's slot
    map has them now; ``{}`` on one server."""


@dataclass(frozen=True, slots=True)
class Owners:
    """The node (``host:port``) serving each of ``keys`` now: ``None`` each on one server."""

    keys: Sequence[Any]


@dataclass(frozen=True, slots=True)
class Indexes:
    """The index names to query for the index ``name``: ``[name]`` on one server; on a cluster
    without a search coordinator, one per primary (made ready by ``Models``), or None when the
    primaries changed since (``ForgetIndexes`` then ``Models`` make them ready again)."""

    name: str


Request: TypeAlias = (
    Call | Script | Pipeline | Sleep | Locked | Models | ForgetIndexes | Clustered | Primaries | Shards
    | Owners | Indexes
)


def before_first_request(first: Op[Any], op: Op[T]) -> Op[T]:
    """``op``, with ``first`` run just before ``op``'s first request (so after its validation:
    an operation that fails validation makes no request, and ``first`` does not run either)."""
    try:
        request = next(op)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    yield from first
    while True:
        try:
            result = yield request
        except Exception as exc:
            try:
                request = op.throw(exc)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
        else:
            try:
                request = op.send(result)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
