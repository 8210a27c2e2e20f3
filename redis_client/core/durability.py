"""``REDIS_WAIT_REPLICAS``: a write is acknowledged only once that many replicas have it.

A write request (a command, a script call, a pipeline holding one) is sent with ``WAIT n
timeout`` after it, in the same round trip on the same connection, so ``WAIT`` counts the
replicas that acknowledged exactly that write. Too few in time raises
:class:`ReplicationTimeoutError`: the write reached the master, not enough replicas, so a
failover may lose it and the caller must not count on it (every write of the API can be
repeated safely). Reads are sent as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import ReplicationTimeoutError
from .protocol import Call, Pipeline, Request, Script
from .settings import RedisSettings

#: redis-py methods and server commands that never write (everything else is treated as a write).
READS = frozenset(
    {
        "get", "mget", "exists", "type", "ttl", "pttl", "scan", "keys", "zrange", "zrangebyscore",
        "zrevrange", "zcard", "zscore", "zcount", "smembers", "sismember", "smismember", "scard",
        "lrange", "llen", "hget", "hgetall", "hmget", "hlen", "ping", "info",
        "JSON.GET", "JSON.TYPE", "JSON.ARRINDEX", "JSON.ARRLEN", "JSON.MGET",
        "FT.SEARCH", "FT.AGGREGATE", "FT.INFO", "FT._LIST", "TYPE", "SMISMEMBER",
    }
)


def writes(call: Call | Script) -> bool:
    if isinstance(call, Script):
        return call.script.writes
    name = str(call.args[0]) if call.name == "execute_command" and call.args else call.name
    return name not in READS and name.upper() not in READS


def calls_of(request: Call | Script | Pipeline) -> Sequence[Call | Script]:
    return request.calls if isinstance(request, Pipeline) else [request]


def wait_call(request: Request, settings: RedisSettings) -> Call | None:
    """The ``WAIT`` to send after ``request`` in its round trip, or None when it needs none."""
    if settings.wait_replicas <= 0 or not isinstance(request, (Call, Script, Pipeline)):
        return None
    if not any(writes(call) for call in calls_of(request)):
        return None
    return Call("execute_command", ("WAIT", settings.wait_replicas, settings.wait_timeout_ms))


def least(first: Any, second: Any) -> Any:
    """The smaller of two ``WAIT`` replies (an error wins): a write re-sent in a second round trip
    (its script was unknown to the server) is covered by that round trip's own ``WAIT``."""
    if isinstance(first, Exception):
        return first
    if isinstance(second, Exception):
        return second
    return min(int(first), int(second))


def unwrap(request: Call | Script | Pipeline, replies: list[Any], settings: RedisSettings) -> Any:
    """The result ``request`` would have had, from the replies of its calls and their ``WAIT``;
    raises the write's own error first, then :class:`ReplicationTimeoutError`."""
    *own, acknowledged = replies
    if not isinstance(request, Pipeline) and isinstance(own[0], Exception):
        raise own[0]
    if isinstance(acknowledged, Exception):
        raise acknowledged
    if int(acknowledged) < settings.wait_replicas:
        raise ReplicationTimeoutError(
            f"the write reached {int(acknowledged)} of the {settings.wait_replicas} replicas "
            f"REDIS_WAIT_REPLICAS asks for within {settings.wait_timeout_ms} ms "
            "(REDIS_WAIT_TIMEOUT_MS): it is on the master but may be lost in a failover"
        )
    return own if isinstance(request, Pipeline) else own[0]
