"""``RedisDB``: the classic API, synchronous (thread-safe; lazily connected pools, per process)."""

from __future__ import annotations

from .facade import Methods, SyncFacade


class RedisDB(Methods, SyncFacade):
    """The original tool's API on the legacy keys, keeping the ``Post``/``TwitterAccount`` records in step.

    Nothing connects until the first command; that command waits up to ``startup_wait`` seconds
    for a server that is down or loading, then raises ``redis.ConnectionError``. The first
    command of a process also stores the prompt map under ``function_variables``. Picklable by
    settings. ``AsyncRedisDB`` (``redis_client.aio``) is the same API for asyncio code.
    """
