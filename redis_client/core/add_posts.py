"""The ``ADD_POSTS`` call: how posts of one account become the script's keys and arguments.

One place for the argument layout (see ``scripts/add_posts.lua``), shared by the dual write
(``add_user_post[s]``) and the record-only writes of the migration and the follower.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import scripts
from .protocol import Script


def add_posts_call(
    zkey: Any,
    account_json: str,
    posts: Sequence[tuple[Any, Any, str]],
    record_keys: Sequence[Any] | None,
    zadd: bool,
) -> Script:
    """The ``ADD_POSTS`` call. ``posts``: (score, member, record JSON) each; ``record_keys``: one
    per post, in the same order (None: no records); ``zadd``: also add the members to ``zkey``.

    The script pairs the i-th record key with the i-th post: a record key missing for one post
    would give the next post's record to it, so the keys are all or none.
    """
    if record_keys is not None and len(record_keys) != len(posts):
        raise ValueError(f"{len(record_keys)} record keys for {len(posts)} posts: one per post, or None")
    args: list[Any] = [account_json, "1" if zadd else "0"]
    for score, member, document in posts:
        args += (score, member, document)
    return Script(scripts.ADD_POSTS, [zkey, *(record_keys or ())], args)
