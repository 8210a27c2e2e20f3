"""Redis Cluster: redis-py's ``RedisCluster`` clients (sync and asyncio), and calls grouped by node.

``REDIS_URL`` (or ``REDIS_HOST`` + ``REDIS_PORT``) names any node; redis-py discovers the others
and routes each command by its key's slot, following ``MOVED``/``ASK`` and refreshing its slot
map. Scripts and transactions may only touch keys of one slot, and redis-py refuses scripts in
its cluster pipelines, so a pipeline of the project is sent as one plain pipeline per node
(:func:`by_node`); a call whose slot moved meanwhile is sent again through the cluster client.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster
from redis.exceptions import (
    AskError,
    ClusterDownError,
    ConnectionError,
    MovedError,
    ReadOnlyError,
    TimeoutError,
    TryAgainError,
)

from . import durability, pools, retry
from .errors import ServerUnavailableError
from .protocol import Call, Script
from .settings import RedisSettings

#: Replies after which a call is sent again through the cluster client (it follows them).
REDIRECTED: tuple[type[Exception], ...] = (
    MovedError, AskError, TryAgainError, ClusterDownError, ReadOnlyError
)


def _kwargs(settings: RedisSettings, decode: bool) -> dict[str, Any]:
    kwargs = pools.pool_kwargs(settings, decode)
    for name in ("retry_on_error", "health_check_interval"):  # RedisCluster takes neither
        kwargs.pop(name, None)
    if settings.ssl:
        kwargs.update(ssl=True, **settings.tls_kwargs())
    if settings.url:
        kwargs["url"] = settings.url
    else:
        kwargs.update(host=settings.host, port=settings.port)
    return kwargs


def build_client(settings: RedisSettings, decode: bool) -> redis.cluster.RedisCluster[Any]:
    """A sync cluster client (no connection until its first command). Each node's pool blocks
    past ``max_connections``, like the project's other pools."""
    kwargs = _kwargs(settings, decode)
    kwargs["connection_pool_class"] = redis.BlockingConnectionPool
    return redis.cluster.RedisCluster(retry=retry.sync_retry(settings), **kwargs)


def build_async_client(settings: RedisSettings, decode: bool) -> redis.asyncio.cluster.RedisCluster[Any]:
    """An asyncio cluster client (for one event loop)."""
    kwargs = _kwargs(settings, decode)
    kwargs.pop("timeout", None)  # a pool wait: the asyncio cluster client has no blocking pool
    kwargs["retry"] = retry.async_retry(settings)
    url = kwargs.pop("url", None)
    if url:
        return redis.asyncio.cluster.RedisCluster.from_url(url, **kwargs)
    return redis.asyncio.cluster.RedisCluster(**kwargs)


def key_of(call: Call | Script) -> Any:
    """The key a call is routed by: a script's first key, a command's first argument."""
    if isinstance(call, Script):
        return call.keys[0]
    if call.name == "execute_command":
        return call.args[1]
    return call.args[0]


def node_of(client: Any, call: Call | Script) -> str:
    """The node (``host:port``) a call goes to: the one it names, else its key's slot's owner."""
    if isinstance(call, Call) and call.node is not None:
        return call.node
    return str(client.get_node_from_key(key_of(call)).name)


def owners(client: Any, keys: Sequence[Any]) -> list[str]:
    """The node serving each key's slot, by name, from the client's slot map (no I/O)."""
    return [str(client.get_node_from_key(key).name) for key in keys]


def primaries(client: Any) -> list[str]:
    """The primaries of the client's slot map, by name."""
    return sorted(node.name for node in client.get_primaries())


def shards(client: Any) -> dict[str, tuple[int, ...]]:
    """Each primary of the client's slot map with the slots it serves."""
    owned: dict[str, list[int]] = {name: [] for name in primaries(client)}
    for slot, nodes in client.nodes_manager.slots_cache.items():
        if nodes:
            owned.setdefault(nodes[0].name, []).append(int(slot))
    return {name: tuple(sorted(slots)) for name, slots in owned.items() if slots}


def redirected(reply: Any) -> bool:
    return isinstance(reply, REDIRECTED)


@dataclass(frozen=True)
class NodeTrip:
    """Send ``calls`` (and ``wait`` after them) to the node named ``node``, as one plain pipeline."""

    node: str
    calls: Sequence[Call | Script]
    wait: Call | None


@dataclass(frozen=True)
class Refresh:
    """Reload the slot map (a slot moved, a primary failed over), after ``pause`` seconds."""

    pause: float


def trips(
    calls: Sequence[Call | Script], wait: Call | None, route: Any, patience: float
) -> Generator[NodeTrip | Refresh, Any, list[Any]]:
    """The replies of ``calls`` sent as one pipeline per node (``route(call)``: its node's name
    now); the driver answers each :class:`NodeTrip` with the node's replies (``wait``'s last),
    or throws the connection error it got. Calls whose node answered ``MOVED``/``ASK``/
    ``TRYAGAIN``/``CLUSTERDOWN``, or could not be reached, are routed again after a
    :class:`Refresh`, round after round for up to ``patience`` seconds (a primary's failover
    takes seconds); then the last error is raised. ``wait``'s reply (last) is the smallest over
    the nodes."""
    replies: list[Any] = [None] * len(calls)
    acknowledged: Any = None
    pending = list(range(len(calls)))
    deadline = time.monotonic() + patience
    for attempt in itertools.count():
        groups: dict[str, list[int]] = {}
        for i in pending:
            groups.setdefault(route(calls[i]), []).append(i)
        again: list[int] = []
        last_error: Exception | None = None
        for node, indexes in groups.items():
            try:
                got = list((yield NodeTrip(node, [calls[i] for i in indexes], wait)))
            except (ConnectionError, TimeoutError) as exc:  # the node went away: route again
                last_error = exc
                again += indexes
                continue
            ack = got.pop() if wait is not None else None
            moved = False
            for i, reply in zip(indexes, got, strict=True):
                if redirected(reply):
                    last_error, moved = reply, True
                    again.append(i)
                else:
                    replies[i] = reply
            # A node that redirected calls may be a replica now (its WAIT is an error): the calls
            # it did not take are sent again elsewhere, each round trip with its own WAIT.
            if wait is not None and not (moved and isinstance(ack, Exception)):
                acknowledged = ack if acknowledged is None else durability.least(acknowledged, ack)
        if not again:
            return replies if wait is None else [*replies, acknowledged]
        if time.monotonic() >= deadline:
            assert last_error is not None
            if isinstance(last_error, (ConnectionError, TimeoutError)):
                raise ServerUnavailableError(
                    f"a cluster node stayed unreachable for {patience:g}s (REDIS_STARTUP_WAIT): {last_error}"
                ) from last_error
            raise last_error
        pending = sorted(again)
        yield Refresh(min(0.05 * 2 ** min(attempt, 4), 0.5))
    raise AssertionError("unreachable")  # pragma: no cover

