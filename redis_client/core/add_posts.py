"""The ``ADD_POSTS`` call: how posts of one account become the script's keys and arguments.

One place for the argument layout (see ``scripts/add_posts.lua``), shared by the dual write
(``add_user_post[s]``) and the record-only writes of the migration and the follower.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Sequence
from typing import Any

from . import scripts, slots
from .protocol import Owners, Request, Script

#: Most posts in one call: the script unpacks 3 values per post onto Lua's stack (8,000 at most).
MAX_POSTS = 2000


def add_posts_call(
    zkey: Any,
    username: str,
    members: Sequence[str],
    scores: Sequence[Any] | None,
    record_keys: Sequence[Any] | None,
) -> Script:
    """The ``ADD_POSTS`` call for posts of ``username``.

    ``members``: each post's JSON object: its sorted-set member, whose record is that object
    with the account list added. ``scores``: one per post, to add the members to ``zkey``
    (None: write the records only). ``record_keys``: one per post (None: no records).

    The script pairs the i-th record key with the i-th post: a key missing for one post would
    give the next post's record to it, so the keys are all or none.
    """
    if record_keys is not None and len(record_keys) != len(members):
        raise ValueError(f"{len(record_keys)} record keys for {len(members)} posts: one per post, or None")
    if scores is not None and len(scores) != len(members):
        raise ValueError(f"{len(scores)} scores for {len(members)} posts: one per post, or None")
    if scores is None and record_keys is None:
        raise ValueError("neither members to add (scores) nor records to write (record keys)")
    if len(members) > MAX_POSTS:
        raise ValueError(f"{len(members)} posts in one call: at most {MAX_POSTS}")
    if scores is None:
        args: list[Any] = [json.dumps(username), "0", *members]
    else:
        args = [json.dumps(username), "1", *members, *members]
        args[2::2], args[3::2] = scores, members
    return Script(scripts.ADD_POSTS, [zkey, *(record_keys or ())], args)


def in_slots(call: Script) -> tuple[Script | None, list[Script]]:
    """An ``ADD_POSTS`` call split for a cluster, whose scripts may touch one slot only: the
    members (with the sorted set's type check; None in record-only mode), then the records, one
    call per slot of their keys. A record-only call's ``KEYS[1]`` (not read in that mode) is its
    first record key, so that every key of the call lies in one slot."""
    zkey, *record_keys = call.keys
    name, mode, *rest = call.args
    first = Script(call.script, [zkey], [name, "1", *rest]) if mode == "1" else None
    members = rest[1::2] if mode == "1" else rest
    by_slot: dict[int, list[int]] = {}
    for i, key in enumerate(record_keys):
        by_slot.setdefault(slots.slot_of(key), []).append(i)
    records = []
    for group in by_slot.values():
        group_keys = [record_keys[i] for i in group]
        group_args = [name, "0", *(members[i] for i in group)]
        records.append(Script(call.script, [group_keys[0], *group_keys], group_args))
    return first, records


def add_records_call(username: str, members: Sequence[str], record_keys: Sequence[Any]) -> Script:
    """The ``ADD_RECORDS`` call (a cluster's records of one account on one node: keys of several
    slots): ``members``, each post's JSON object, and their record keys, one each."""
    if len(record_keys) != len(members) or not members:
        raise ValueError(f"{len(record_keys)} record keys for {len(members)} posts: one per post")
    args: list[Any] = [json.dumps(username)]
    for key, member in zip(record_keys, members, strict=True):
        args += (key, member)
    return Script(scripts.ADD_RECORDS, [record_keys[0]], args)


#: Most records in one ``ADD_RECORDS`` call (bounds the time a node spends in one script).
RECORDS_PER_NODE_CALL = 500


def by_node(record_keys: Sequence[Any]) -> Generator[Request, Any, list[list[int]]]:
    """The indexes of ``record_keys`` grouped by the node serving them now (an operation: asks
    the driver), at most ``RECORDS_PER_NODE_CALL`` per group."""
    owners = yield Owners(record_keys)
    groups: dict[Any, list[int]] = {}
    for i, node in enumerate(owners):
        groups.setdefault(node, []).append(i)
    return [
        group[i : i + RECORDS_PER_NODE_CALL]
        for group in groups.values()
        for i in range(0, len(group), RECORDS_PER_NODE_CALL)
    ]
