"""``migrate inventory``: SCAN the whole keyspace, classify each key by documented pattern and type.

Streams: one SCAN page and its pipelined TYPE replies at a time; only the counters and a bounded
sample of the keys matching no pattern are kept.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from ..core import keys, scan

#: Keys matching no pattern kept for printing (all are counted).
MAX_UNMATCHED = 1000

#: Name of the catch-all pattern: ``db.set`` values under any other name.
VALUE_PATTERN = "{key} (db.set values)"


@dataclass(frozen=True)
class Pattern:
    name: str
    types: tuple[str, ...]
    matches: Callable[[str], bool]


def _prefix(prefix: str) -> Callable[[str], bool]:
    head = prefix + ":"
    return lambda key: key.startswith(head) and len(key) > len(head)


def _exact(name: str) -> Callable[[str], bool]:
    return lambda key: key == name


def _patterns() -> list[Pattern]:
    ns = keys.MODEL_NAMESPACE
    found = [
        Pattern("posted_tweets:{username}", ("zset",), _prefix(keys.POSTED_TWEETS)),
        Pattern("twitter_data:{username}", ("hash", "string"), _prefix(keys.TWITTER_DATA)),
    ]
    found += [Pattern(f"{a}:{{username}}", ("string",), _prefix(a)) for a in keys.ACTION_TYPES]
    found += [
        Pattern("created_tweet:{function_name}", ("list",), _prefix(keys.CREATED_TWEET)),
        Pattern("send_partnership:{username}", ("zset",), _prefix(keys.SEND_PARTNERSHIP)),
        Pattern(
            "gorilla_marketing_answered:{username}", ("set",),
            _prefix(keys.GORILLA_MARKETING_ANSWERED),
        ),
        Pattern("user_likes:{username}", ("set",), _prefix(keys.USER_LIKES)),
        Pattern(keys.FUNCTION_VARIABLES, ("string",), _exact(keys.FUNCTION_VARIABLES)),
        Pattern(f"{ns}:{keys.POST_PREFIX}:{{id}} (Post records)", ("ReJSON-RL",),
                _prefix(f"{ns}:{keys.POST_PREFIX}")),
        Pattern(f"{ns}:{keys.ACCOUNT_PREFIX}:{{username}} (TwitterAccount records)",
                ("ReJSON-RL",), _prefix(f"{ns}:{keys.ACCOUNT_PREFIX}")),
        Pattern(f"{ns}:migration:* (migration state)", ("hash", "set"), _prefix(f"{ns}:migration")),
        Pattern(f"{ns}:schema:{{index}} (index schema hashes)", ("string",),
                _prefix(f"{ns}:schema")),
        Pattern(f"{ns}:schema-lock:{{index}} (index rebuild locks)", ("string",),
                _prefix(f"{ns}:schema-lock")),
        Pattern(f"{ns}:posting:{{<tag>}}{{username}} (posting slots)", ("hash",),
                _prefix(f"{ns}:posting")),
        Pattern(f"{keys.APPLIED_MIGRATIONS} (redis-om)", ("set",),
                _exact(keys.APPLIED_MIGRATIONS)),
    ]
    return found


PATTERNS: list[Pattern] = _patterns()


@dataclass
class Inventory:
    total: int = 0
    #: (pattern name, type) -> number of keys.
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: (key, type, why) of keys matching no documented pattern and type (the first ones).
    unmatched: list[tuple[str, str, str]] = field(default_factory=list)
    unmatched_total: int = 0

    def rows(self) -> list[tuple[str, str, int]]:
        """(pattern, type, count) in documented order, the catch-all last."""
        order = {p.name: i for i, p in enumerate(PATTERNS)}
        ranked = sorted(self.counts.items(), key=lambda kv: (order.get(kv[0][0], len(order)), kv[0][1]))
        return [(name, kind, n) for (name, kind), n in ranked]


def classify(key: str, kind: str) -> tuple[str | None, str]:
    """The pattern a key of this type belongs to (None: no documented pattern), and why not."""
    for pattern in PATTERNS:
        if pattern.matches(key):
            if kind in pattern.types:
                return pattern.name, ""
            expected = " or ".join(pattern.types)
            return None, f"named like {pattern.name} but holds a {kind}, not a {expected}"
    if kind == "string":
        return VALUE_PATTERN, ""
    return None, f"no documented pattern for a {kind} under this name"


def scan_keyspace(client: redis.Redis[Any]) -> Inventory:
    """Classify every key of the database (reads key names and types only)."""
    result = Inventory()
    for _, page in scan.pages(client):
        _classify_page(client, page, result)
    return result


def _classify_page(client: redis.Redis[Any], page: list[bytes], result: Inventory) -> None:
    pipe = client.pipeline(transaction=False)
    for raw in page:
        pipe.type(raw)
    for raw, kind_raw in zip(page, pipe.execute(), strict=True):
        kind = kind_raw.decode() if isinstance(kind_raw, bytes) else str(kind_raw)
        if kind == "none":
            continue  # deleted since SCAN
        key: str = raw.decode("utf-8", "backslashreplace")
        result.total += 1
        name, why = classify(key, kind)
        if name is not None:
            result.counts[(name, kind)] += 1
        else:
            result.unmatched_total += 1
            if len(result.unmatched) < MAX_UNMATCHED:
                result.unmatched.append((key, kind, why))
