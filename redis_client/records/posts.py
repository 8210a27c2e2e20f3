"""``Post`` records of parsed legacy members, written with ``ADD_POSTS`` in record-only mode.

Record-only mode (``ARGV[2] = '0'``) never touches the sorted set: it creates a record with
``JSON.SET ... NX`` and otherwise only adds the account to the record's ``accounts`` when
missing. So writing the same members twice, or members that ``db.add_user_post`` wrote
meanwhile, changes nothing, and an id met under two accounts is one record listing both.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from ..core import keys, scripts
from ..core.protocol import Op, Pipeline, Script
from . import members


@dataclass
class Written:
    """What a write of records did."""

    #: Records created (posts whose id had no record yet).
    created: int = 0
    #: (post, reason) of the posts that could not be written (a record key of another type).
    failed: list[tuple[Any, str]] = field(default_factory=list)


def records_call(zkey: bytes | str, username: str, posts: Sequence[Any]) -> Script:
    """The ``ADD_POSTS`` call writing the records of ``posts`` (``members.parse`` results) of one
    account, in record-only mode; its result is the number of records created."""
    account = json.dumps(username)
    call_keys: list[Any] = [zkey]
    call_args: list[Any] = [account, "0"]
    for post in posts:
        call_keys.append(keys.model_key(keys.POST_PREFIX, post.id))
        call_args += ("", "", members.document(post, account))
    return Script("ADD_POSTS", call_keys, call_args)


def write_records(batch: Sequence[tuple[bytes | str, str, Sequence[Any]]]) -> Op[Written]:
    """Write the records of several accounts' posts in one round trip.

    ``batch`` holds (posted_tweets key, username, parsed members). A call that fails (a record
    key of another type makes the whole call fail before any write) is written again post by
    post, so only the posts whose own record key is unusable are left out, with the reason.
    """
    written = Written()
    replies = yield Pipeline([records_call(zkey, user, posts) for zkey, user, posts in batch])
    for (zkey, user, posts), reply in zip(batch, replies, strict=True):
        if not isinstance(reply, redis.ResponseError):
            written.created += int(reply)
            continue
        singles = yield Pipeline([records_call(zkey, user, [post]) for post in posts])
        for post, single in zip(posts, singles, strict=True):
            if isinstance(single, redis.ResponseError):
                reason = f"cannot write the Post record of id {post.id!r}: {scripts.server_message(single)}"
                written.failed.append((post, reason))
            else:
                written.created += int(single)
    return written
