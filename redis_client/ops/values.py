"""JSON values, sets, sorted sets and key patterns: the generic half of the classic API."""

from __future__ import annotations

import logging
from typing import Any

from ..core.codec import decode_value, encode_value
from ..core.errors import StoredValueError
from ..core.protocol import Call, Op, Primaries
from ..core.scan import scan_all

log = logging.getLogger("redis_client")

#: ``get``'s default when none is given (a missing key then reads as None).
NO_DEFAULT: Any = object()


def _log_key(action: str, key: str) -> None:
    # Only the key: values may hold OAuth tokens.
    log.debug("%s %s", action, key)


def get(key: str, default: Any = NO_DEFAULT) -> Op[Any]:
    """The JSON value at ``key``; ``default`` (when given) if missing or empty, else None."""
    raw = yield Call("get", (key,))
    if not raw:  # missing, or an empty string left by another writer
        return None if default is NO_DEFAULT else default
    return decode_value(key, raw)


def set_(key: str, value: Any, log: bool = True, keep_ttl: bool = False) -> Op[None]:
    """Store ``value`` as JSON; ``None`` deletes the key."""
    if value is None:
        return (yield from delete(key, log=log))
    text = encode_value(key, value)
    if log:
        _log_key("set", key)
    yield Call("set", (key, text), {"keepttl": keep_ttl})


def setex(key: str, value: Any, ex: int, log: bool = True) -> Op[None]:
    """Store ``value`` as JSON for ``ex`` seconds; ``None`` deletes the key."""
    if value is None:
        return (yield from delete(key, log=log))
    text = encode_value(key, value)
    if log:
        _log_key("setex", key)
    yield Call("set", (key, text), {"ex": ex})  # redis-py 8 deprecates setex()


def set_default(key: str, value: Any) -> Op[None]:
    """Store ``value`` only when the key is missing or holds an empty string."""
    if value and (yield from get(key)) in (None, ""):
        yield from set_(key, value)


def delete(key: str, log: bool = True) -> Op[None]:
    if log:
        _log_key("delete", key)
    yield Call("delete", (key,))


def parse_list(key: str) -> Op[list[Any]]:
    """The value as a list: a JSON list as is, a comma-separated string split, else []."""
    value = yield from get(key)
    if isinstance(value, list):
        return value
    if value is None:
        return []
    if isinstance(value, str):
        return [] if value in ("-", "") else value.split(",")
    raise StoredValueError(f"value at key {key!r} is a {type(value).__name__}, not a list or str")


def get_keys_by_pattern(pattern: str) -> Op[list[str]]:
    """Keys matching a glob ``pattern``, by SCAN (does not block the server)."""
    return [k.decode("utf-8") for k in (yield from scan_all(pattern))]


def get_keys_by_pattern_blocking(pattern: str) -> Op[list[str]]:
    """Keys matching ``pattern``, by KEYS (blocks the server: small databases only); on a
    cluster, of every primary."""
    found: list[str] = []
    for node in (yield Primaries()):
        found += [k.decode("utf-8") for k in (yield Call("keys", (pattern,), node=node))]
    return found


def add_to_set(key: str, value: str) -> Op[None]:
    yield Call("sadd", (key, value))


def get_set(key: str) -> Op[list[str]]:
    return [m.decode("utf-8") for m in (yield Call("smembers", (key,)))]


def add_to_sorted_set(key: str, score: float, value: str) -> Op[None]:
    yield Call("zadd", (key, {value: score}))


def get_sorted_set(key: str, start: int = 0, end: int = -1) -> Op[list[str]]:
    return [m.decode("utf-8") for m in (yield Call("zrange", (key, start, end)))]
