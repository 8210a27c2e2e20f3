"""Search indexes of the models: created on first use, rebuilt when a model's schema changes."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable
from typing import Any

import redis

from . import keys

log = logging.getLogger(__name__)

#: How long to wait for a new index to finish indexing existing records.
INDEXING_WAIT = 30.0
#: Longest a process may hold, or wait for, the lock around an index rebuild.
LOCK_TIMEOUT = 60.0


def schema_args(model: Any) -> list[str]:
    """FT.CREATE arguments after the index name. Split on ' ' only: a separator may be a control char."""
    return [part for part in model.redisearch_schema().split(" ") if part]


def schema_hash(model: Any) -> str:
    return hashlib.sha1(" ".join(schema_args(model)).encode()).hexdigest()


def _index_exists(client: redis.Redis, name: str) -> bool:
    try:
        client.execute_command("FT.INFO", name)
        return True
    except redis.ResponseError as exc:
        if "unknown index" in str(exc).lower() or "no such index" in str(exc).lower():
            return False
        raise


def ensure_index(client: redis.Redis, model: Any) -> bool:
    """Create ``model``'s index if missing or outdated. Returns True when it (re)built one.

    Safe when several processes do this at once: the check and the rebuild run under a Redis
    lock (redis-py's ``Lock``), so one process builds while the others wait and then find it done.
    """
    name = model._meta.index_name
    hash_key = keys.schema_hash_key(name)
    wanted = schema_hash(model)
    if client.get(hash_key) == wanted and _index_exists(client, name):
        return False
    with client.lock(keys.schema_lock_key(name), timeout=LOCK_TIMEOUT, blocking_timeout=LOCK_TIMEOUT):
        if client.get(hash_key) == wanted and _index_exists(client, name):
            return False  # another process built it while we waited
        if _index_exists(client, name):
            log.info("schema of %s changed: rebuilding index %s", model.__name__, name)
            client.execute_command("FT.DROPINDEX", name)  # keeps the documents
        client.execute_command("FT.CREATE", name, *schema_args(model))
        client.set(hash_key, wanted)
        log.info("created index %s", name)
    wait_indexed(client, name)
    return True


def wait_indexed(client: redis.Redis, name: str, timeout: float = INDEXING_WAIT) -> None:
    """Wait until the index has scanned the records that existed when it was created."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = client.execute_command("FT.INFO", name)
        fields = dict(zip(info[::2], info[1::2], strict=True)) if isinstance(info, list) else info
        if str(fields.get("indexing", fields.get(b"indexing", 0))) in ("0", "b'0'"):
            return
        time.sleep(0.05)
    log.warning("index %s still indexing after %.0fs", name, timeout)


def ensure_indexes(client: redis.Redis, models: Iterable[Any]) -> list[str]:
    """Ensure every model's index; returns the names of the indexes (re)built."""
    return [m._meta.index_name for m in models if ensure_index(client, m)]


def drop_indexes(client: redis.Redis, models: Iterable[Any]) -> None:
    """Drop the indexes (not the records) and their schema hashes."""
    for model in models:
        name = model._meta.index_name
        if _index_exists(client, name):
            client.execute_command("FT.DROPINDEX", name)
        client.delete(keys.schema_hash_key(name))
