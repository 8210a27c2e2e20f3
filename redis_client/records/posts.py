"""``Post`` records of parsed legacy members, for the jobs that write records only.

A new record is created with the same document ``add_user_post`` writes, and a record that
exists only gains the account in its ``accounts`` when missing: ``ADD_POSTS`` in record-only
mode (``ARGV[2] = '0'``), which never touches the sorted set. So writing the same
members twice, or members that ``db.add_user_post`` wrote meanwhile, changes nothing, and an id
met under two accounts is one record listing both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from ..core import keys
from ..core.add_posts import add_posts_call, add_records_call, by_node
from ..core.errors import server_message
from ..core.protocol import Clustered, Op, Pipeline, Script
from . import members

#: Posts per ``ADD_POSTS`` call (a bigger group is split; ``add_posts.MAX_POSTS`` bounds it).
RECORDS_PER_CALL = 1000


@dataclass
class Written:
    """What a write of records did."""

    #: Records created (posts whose id had no record yet).
    created: int = 0
    #: (posted_tweets key, post, reason) of the posts that could not be written (a record key
    #: of another type).
    failed: list[tuple[bytes | str, Any, str]] = field(default_factory=list)


def records_call(username: str, posts: Sequence[Any]) -> Script:
    """The ``ADD_POSTS`` call writing the records of ``posts`` (``members.parse`` results) of one
    account, in record-only mode; its result is the number of records created. The sorted set
    is not read in that mode: its place holds the first record key, so that posts of one slot
    make a call a cluster runs."""
    record_keys = [keys.model_key(keys.POST_PREFIX, post.id) for post in posts]
    return add_posts_call(record_keys[0], username, [members.body(post) for post in posts], None, record_keys)


def nodes_call(username: str, posts: Sequence[Any]) -> Script:
    """On a cluster, the ``ADD_RECORDS`` call writing the records of ``posts`` of one account
    that one node serves (keys of several slots)."""
    record_keys = [keys.model_key(keys.POST_PREFIX, post.id) for post in posts]
    return add_records_call(username, [members.body(post) for post in posts], record_keys)


def write_records(batch: Sequence[tuple[bytes | str, str, Sequence[Any]]]) -> Op[Written]:
    """Write the records of several accounts' posts: one round trip, one ``ADD_POSTS`` call in
    record-only mode per entry of ``batch`` (per ``RECORDS_PER_CALL`` posts of it).

    ``batch`` holds (posted_tweets key, username, parsed members). One script call per entry
    packs its posts into a single command: redis-py's per-command cost of pipelining
    ``JSON.SET ... NX`` per post was 3x the client CPU for the same server work (measured, issue
    14). A call failing on a record key of another type is retried post by post, so only the
    posts whose key holds another type are left out, with the reason.
    """
    written = Written()
    groups = [
        (zkey, user, group[i : i + RECORDS_PER_CALL])
        for zkey, user, group in batch
        for i in range(0, len(group), RECORDS_PER_CALL)
    ]
    calls: list[Script]
    if (yield Clustered()):  # keys of several slots: one ADD_RECORDS call per node
        split: list[tuple[bytes | str, str, Sequence[Any]]] = []
        for zkey, user, group in groups:
            record_keys = [keys.model_key(keys.POST_PREFIX, post.id) for post in group]
            for part in (yield from by_node(record_keys)):
                split.append((zkey, user, [group[i] for i in part]))
        groups = split
        calls = [nodes_call(user, group) for _, user, group in groups]
    else:
        calls = [records_call(user, group) for _, user, group in groups]
    replies = yield Pipeline(calls)
    for (zkey, user, group), reply in zip(groups, replies, strict=True):
        if not isinstance(reply, redis.ResponseError):
            written.created += int(reply)
            continue
        singles = yield Pipeline([records_call(user, [post]) for post in group])
        for post, single in zip(group, singles, strict=True):
            if isinstance(single, redis.ResponseError):
                written.failed.append((zkey, post, _failure(post, single)))
            else:
                written.created += int(single)
    return written


def _failure(post: Any, error: redis.ResponseError) -> str:
    return f"cannot write the Post record of id {post.id!r}: {server_message(error)}"
