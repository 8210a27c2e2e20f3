"""JSON values, sets and sorted sets: the generic half of the classic RedisDB API."""

from __future__ import annotations

import logging
from typing import Any

from .base import Connected
from .codec import decode_value, encode_value

log = logging.getLogger("redis_client")

_NO_DEFAULT: Any = object()


class ValuesMixin(Connected):
    """``get``/``set`` of JSON values and the set helpers. Needs ``self.r`` (bytes client)."""

    def get(self, key: str, default: Any = _NO_DEFAULT) -> Any:
        """The JSON value at ``key``; ``default`` (when given) if missing or empty, else None."""
        raw = self.r.get(key)
        if not raw:  # missing, or an empty string left by another writer
            return None if default is _NO_DEFAULT else default
        return decode_value(key, raw)

    def set(self, key: str, value: Any, log: bool = True, keep_ttl: bool = False) -> None:
        """Store ``value`` as JSON; ``None`` deletes the key."""
        if value is None:
            self.delete(key, log=log)
            return
        text = encode_value(key, value)
        if log:
            _log_key("set", key)
        self.r.set(key, text, keepttl=keep_ttl)

    def setex(self, key: str, value: Any, ex: int, log: bool = True) -> None:
        """Store ``value`` as JSON for ``ex`` seconds; ``None`` deletes the key."""
        if value is None:
            self.delete(key, log=log)
            return
        text = encode_value(key, value)
        if log:
            _log_key("setex", key)
        self.r.set(key, text, ex=ex)  # redis-py 8 deprecates setex()

    def set_default(self, key: str, value: Any) -> None:
        """Store ``value`` only when the key is missing or holds an empty string."""
        if value and self.get(key) in (None, ""):
            self.set(key, value)

    def delete(self, key: str, log: bool = True) -> None:
        if log:
            _log_key("delete", key)
        self.r.delete(key)

    def __getitem__(self, key: str) -> Any:
        return self.get(key)

    def __setitem__(self, key: str, value: Any) -> None:
        self.set(key, value)

    def __delitem__(self, key: str) -> None:
        self.delete(key)

    def parse_list(self, key: str) -> list[Any]:
        """The value as a list: a JSON list as is, a comma-separated string split, else []."""
        value = self.get(key)
        if isinstance(value, list):
            return value
        if value is None:
            return []
        if isinstance(value, str):
            return [] if value in ("-", "") else value.split(",")
        raise ValueError(f"value at key {key!r} is a {type(value).__name__}, not a list or str")

    def get_keys_by_pattern(self, pattern: str) -> list[str]:
        """Keys matching a glob ``pattern``, by SCAN (does not block the server)."""
        return [k.decode("utf-8") for k in self.r.scan_iter(match=pattern, count=1000)]

    def get_keys_by_pattern_blocking(self, pattern: str) -> list[str]:
        """Keys matching ``pattern``, by KEYS (blocks the server: small databases only)."""
        return [k.decode("utf-8") for k in self.r.keys(pattern)]

    def add_to_set(self, key: str, value: str) -> None:
        self.r.sadd(key, value)

    def get_set(self, key: str) -> list[str]:
        return [m.decode("utf-8") for m in self.r.smembers(key)]

    def add_to_sorted_set(self, key: str, score: float, value: str) -> None:
        self.r.zadd(key, {value: score})

    def get_sorted_set(self, key: str, start: int = 0, end: int = -1) -> list[str]:
        return [m.decode("utf-8") for m in self.r.zrange(key, start, end)]


def _log_key(action: str, key: str) -> None:
    # Only the key: values may hold OAuth tokens.
    log.debug("%s %s", action, key)
