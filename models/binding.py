"""Which server the models use: a ``Connector``, the process's shared one unless bound elsewhere.

The shared ``db`` of ``redis_client.main`` and of ``redis_client.aio`` use that same shared
connector, so by default ``Post.find()`` queries the server the classic calls write to. A
``RedisDB`` with its own settings runs its own model work (``remove_account``) on its own server.
"""

from __future__ import annotations

import threading
from typing import Any, TypeVar

from redis_client.core.connector import Connector, shared
from redis_client.core.drivers import SyncDriver
from redis_client.core.drivers import arun as drivers_arun
from redis_client.core.protocol import Op
from redis_client.core.settings import RedisSettings

T = TypeVar("T")

_lock = threading.Lock()
_bound: Connector | None = None


def bind(target: Any) -> None:
    """Point the models at ``target``: a ``RedisDB``/``AsyncRedisDB``, a ``Connector``, settings,
    or None (back to the shared connector)."""
    global _bound
    if target is None or isinstance(target, Connector):
        connector = target
    elif isinstance(target, RedisSettings):
        connector = Connector(target)
    else:
        connector = getattr(target, "connector", None)
        if not isinstance(connector, Connector):
            raise TypeError(f"cannot bind the models to a {type(target).__name__}")
    with _lock:
        _bound = connector


def connector() -> Connector:
    """The connector the models use now."""
    bound = _bound
    return bound if bound is not None else shared()


def forget() -> None:
    """Check the indexes again on next use (after a FLUSHALL or a server swap, e.g. in tests)."""
    connector().forget_indexes()


def run(op: Op[T]) -> T:
    """Perform a model operation with the sync client."""
    return SyncDriver(connector()).run(op)


async def arun(op: Op[T]) -> T:
    """Perform a model operation with the running loop's asyncio client."""
    return await drivers_arun(connector(), op)
