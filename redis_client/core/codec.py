"""JSON encoding of stored values and of the legacy sorted-set post member."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .errors import InvalidValueError, StoredValueError


def text(value: Any, errors: str = "strict") -> str:
    """A reply value as text: bytes decoded as UTF-8 (``errors`` as for ``bytes.decode``)."""
    return value.decode("utf-8", errors) if isinstance(value, bytes) else str(value)


#: Order of the 7 fields in a ``posted_tweets:{username}`` member. Other services parse it.
POST_MEMBER_FIELDS: tuple[str, ...] = (
    "id",
    "text",
    "sender_username",
    "timestamp",
    "quoted_tweet_id",
    "is_reply_to",
    "is_news_summary_tweet",
)


def decode_redis(src: Any) -> Any:
    """Turn bytes (also inside lists, tuples, sets and dicts) into str, recursively.

    The scalars a reply holds besides bytes (str, int, float, bool, None) pass through; like the
    original tool's, any other type raises ``TypeError``.
    """
    if isinstance(src, bytes):
        return src.decode("utf-8")
    if src is None or isinstance(src, (str, int, float)):
        return src
    if isinstance(src, list):
        return [decode_redis(x) for x in src]
    if isinstance(src, tuple):
        return tuple(decode_redis(x) for x in src)
    if isinstance(src, set):
        return {decode_redis(x) for x in src}
    if isinstance(src, dict):
        return {decode_redis(k): decode_redis(v) for k, v in src.items()}
    raise TypeError(f"decode_redis cannot decode a {type(src).__name__}")


def encode_value(key: str, value: Any) -> str:
    """JSON text of ``value``; a clear error naming ``key`` when it cannot be encoded."""
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(
            f"value for key {key!r} cannot be stored as JSON ({type(value).__name__}): "
            f"{type(exc).__name__}"
        ) from None


def decode_value(key: str, raw: bytes | str | None, default: Any = None) -> Any:
    """Parse a stored JSON value; ``default`` when the key is missing."""
    if raw is None:
        return default
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise StoredValueError(f"value stored at key {key!r} is not valid JSON") from None


#: How ``json.dumps`` writes a str (its C encoder when there is one).
_string = json.encoder.encode_basestring_ascii


def post_member(fields: Mapping[str, Any]) -> str:
    """The sorted-set member: ``json.dumps`` of the 7 fields in contract order.

    Fields of the types a validated post has are written by hand, byte for byte what
    ``json.dumps`` writes (default separators, ASCII escapes), in a third of its time; any other
    value goes through ``json.dumps`` itself.
    """
    i, t, s, ts = fields["id"], fields["text"], fields["sender_username"], fields["timestamp"]
    q, r, n = fields["quoted_tweet_id"], fields["is_reply_to"], fields["is_news_summary_tweet"]
    if (
        type(i) is str and type(t) is str and type(s) is str and type(ts) is int and type(n) is bool
        and (q is None or type(q) is str) and (r is None or type(r) is str)
    ):
        return (
            f'{{"id": {_string(i)}, "text": {_string(t)}, "sender_username": {_string(s)}, '
            f'"timestamp": {ts}, "quoted_tweet_id": {"null" if q is None else _string(q)}, '
            f'"is_reply_to": {"null" if r is None else _string(r)}, '
            f'"is_news_summary_tweet": {"true" if n else "false"}}}'
        )
    return json.dumps({name: fields[name] for name in POST_MEMBER_FIELDS})


def json_reply(reply: Any) -> Any:
    """A ``JSON.GET`` reply as Python data: redis-py parses it already, or leaves text."""
    if isinstance(reply, (bytes, str)):
        return json.loads(reply)
    return reply
