"""Which Redis the models use: the process's settings, connected lazily, checked once."""

from __future__ import annotations

import os
import threading
from typing import Any

import redis

from redis_client import capabilities, connection, indexes
from redis_client.settings import RedisSettings, load_settings

_lock = threading.Lock()
_settings: RedisSettings | None = None
_ready: set[tuple[int, str]] = set()
_registry: list[Any] = []


def register(model: Any) -> Any:
    """Class decorator: the model's index is ensured on first use."""
    _registry.append(model)
    return model


def registered_models() -> list[Any]:
    return list(_registry)


def bind(settings: RedisSettings | None) -> None:
    """Point the models at ``settings`` (None: back to the environment's)."""
    global _settings, _client
    with _lock:
        _settings = settings
        _client = None


def current_settings() -> RedisSettings:
    global _settings
    with _lock:
        if _settings is None:
            _settings = load_settings()
        return _settings


def prepare(client: redis.Redis, settings: RedisSettings) -> None:
    """Once per process and server: check the modules, then create or update the indexes."""
    key = (os.getpid(), settings.model_dump_json())
    if key in _ready:
        return
    with _lock:
        if key in _ready:
            return
        connection.ensure_ready(settings, settings.startup_wait)
        capabilities.probe(client).require_models(settings.describe())
        indexes.ensure_indexes(client, _registry)
        _ready.add(key)


def forget() -> None:
    """Forget which servers were prepared (after a FLUSHALL or a server swap, e.g. in tests)."""
    global _client
    with _lock:
        _ready.clear()
        _client = None


#: (pid, pools generation, settings, client) of the last ``client()``. redis-om caches its module
#: checks (``has_redisearch``...) per client object in unbounded lru_caches: a new client per call
#: made every ``find()`` send 3 COMMAND INFO round trips and leak 3 ``redis.Redis`` objects.
_client: tuple[int, int, RedisSettings, redis.Redis] | None = None


def client() -> redis.Redis:
    """The text-mode client the models use, prepared on first call (one per process and settings)."""
    global _client
    settings = current_settings()
    cached = _client
    key = (os.getpid(), connection.pools_generation)
    if cached is not None and cached[:2] == key and cached[2] is settings:
        return cached[3]
    conn = connection.get_client(settings, decode=True)
    prepare(conn, settings)
    _client = (*key, settings, conn)
    return conn
