"""Posts: the legacy sorted set ``posted_tweets:{username}`` and the ``Post`` records, in step."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

import redis

from redis_client.models.post import Post

from .. import translate
from ..core import keys
from ..core.add_posts import add_posts_call, add_records_call, by_node, in_slots
from ..core.codec import post_member
from ..core.errors import WriteConflictError, server_message
from ..core.protocol import Call, Clustered, Models, Op, Pipeline, Script
from ..records import members

log = logging.getLogger("redis_client")

#: Posts per script call in ``add_user_posts`` (bounds the time the server spends in one call).
BATCH_SIZE = 500


def add_user_post(username: str, post: Any) -> Op[None]:
    """Validate, then write the legacy member and the ``Post`` record in one atomic script call.

    ``post`` may be a ``Post``, a dict, or any object with the post attributes. Adding the
    same post again changes nothing; the same id under another account adds that account
    to the record's ``accounts`` (the first content written stays in the record).
    """
    zkey = keys.posted_tweets(username)
    valid = members.validate(post)
    call = _batch_call(zkey, username, [valid], (yield Models()))
    if (yield Clustered()):
        yield from _in_slots(username, [call])
        return
    try:
        yield call
    except redis.ResponseError as exc:
        raise write_conflict(exc) or exc from None


def add_user_posts(username: str, posts: Iterable[Any]) -> Op[int]:
    """Add many posts of one account; all are validated before anything is written.

    Written in atomic batches of ``BATCH_SIZE``, pipelined in one round trip. Returns how many
    members were new in the sorted set.
    """
    zkey = keys.posted_tweets(username)
    valid = [members.validate(p) for p in posts]
    if not valid:
        return 0
    with_records = yield Models()
    calls = [
        _batch_call(zkey, username, valid[i : i + BATCH_SIZE], with_records)
        for i in range(0, len(valid), BATCH_SIZE)
    ]
    if (yield Clustered()):
        return (yield from _in_slots(username, calls))
    return _added((yield Pipeline(calls)))


def _added(results: Sequence[Any]) -> int:
    """New members counted from ``ADD_POSTS`` replies; a type conflict raised."""
    added = 0
    for result in results:
        if isinstance(result, redis.ResponseError):
            raise write_conflict(result) or result
        added += int(result)
    return added


def _in_slots(username: str, calls: Sequence[Script]) -> Op[int]:
    """On a cluster, where a post's member and its record lie in different slots: the members
    first (one call per batch, in the sorted set's slot), then the records (``ADD_RECORDS``: one
    call per node, for keys of several slots; per slot when the slots moved meanwhile). Each
    call is atomic and can be repeated; a process killed between the two leaves members without
    records, which ``redis-client sync`` writes."""
    split = [in_slots(call) for call in calls]
    added = _added((yield Pipeline([first for first, _ in split if first is not None])))
    records = [record for _, per_slot in split for record in per_slot]
    record_keys = [key for call in records for key in call.keys[1:]]
    texts = [text for call in records for text in call.args[2:]]
    groups = yield from by_node(record_keys)
    replies = yield Pipeline([
        add_records_call(username, [texts[i] for i in group], [record_keys[i] for i in group])
        for group in groups
    ])
    if any(isinstance(r, redis.ResponseError) and not _conflict(r) for r in replies):
        _added((yield Pipeline(records)))  # a slot moved under a node's call: one call per slot
    else:
        _added(replies)
    return added


def _conflict(error: redis.ResponseError) -> bool:
    return server_message(error).startswith("WRONGTYPE ")


def _batch_call(zkey: str, username: str, batch: Sequence[Any], with_records: bool) -> Script:
    """One ``ADD_POSTS`` call: ZADD every member, and write or link every record."""
    texts = [post_member(post.__dict__) for post in batch]
    scores = [post.timestamp for post in batch]
    records = [keys.model_key(keys.POST_PREFIX, post.id) for post in batch] if with_records else None
    return add_posts_call(zkey, username, texts, scores, records)


def write_conflict(exc: redis.ResponseError) -> WriteConflictError | None:
    """The script's type check as a :class:`WriteConflictError` naming the key.

    Only the server's own message is kept (see ``errors.server_message``).
    """
    message = server_message(exc)
    if not message.startswith("WRONGTYPE "):
        return None
    return WriteConflictError(f"{message[len('WRONGTYPE '):]}: nothing was written")


def get_user_posts(username: str) -> Op[list[Post]]:
    """The account's posts, oldest first, from the sorted set (malformed members skipped)."""
    zkey = keys.posted_tweets(username)
    return _parse(zkey, (yield Call("zrange", (zkey, 0, -1))))


def get_user_posts_by_create_time(username: str, second_ago: int = 10800) -> Op[list[Post]]:
    """Posts of the last ``second_ago`` seconds, newest last."""
    zkey = keys.posted_tweets(username)
    now = int(time.time())
    return _parse(zkey, (yield Call("zrangebyscore", (zkey, now - second_ago, now))))


def _parse(zkey: str, raws: list[bytes]) -> list[Post]:
    def warn(index: int, reason: str) -> None:
        log.warning("skipped malformed member #%d of %s: %s", index, zkey, reason)

    return translate.parse_members(raws, on_bad=warn)
