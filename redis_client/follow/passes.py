"""The passes: which keys changed while nobody was looking (missed notifications, downtime).

A pass lists every ``posted_tweets`` key with SCAN and compares its fingerprint (one
``FOLLOW_READ`` per key, pipelined a page at a time) with the stored one; the keys that differ,
and the keys with a stored fingerprint that no longer exist, are marked to be compared. A full
pass marks every key without looking. Accounts are few: every one is marked (their upsert
writes only what differs). Nothing is read member by member here.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice
from typing import Any

import redis

from ..core import keys
from ..core.drivers import SyncDriver
from ..core.protocol import Call, Pipeline
from ..core.scan import pages
from .fingerprint import parse_read, read_call
from .pending import COMPARE, Pending


def post_keys_pass(
    client: redis.Redis[Any],
    driver: SyncDriver,
    pending: Pending,
    scan_count: int,
    full: bool = False,
    between_pages: Callable[[], None] | None = None,
    busy: Callable[[], set[bytes]] = set,
    skip_pending: bool = False,
) -> tuple[int, int]:
    """Mark the changed ``posted_tweets`` keys (every one with ``full``); returns (keys seen,
    keys marked). ``between_pages`` runs after each page (the follower keeps up with appends).
    Keys ``busy`` (being committed) are left to their batch, and with ``skip_pending`` the keys
    already pending too: their notifications say whether an append window is enough (and a
    window that does not add up is compared anyway)."""
    seen = marked = 0
    for _, page in pages(client, keys.prefix_pattern(keys.POSTED_TWEETS), scan_count):
        seen += len(page)
        if full:
            marked += pending.post_keys(page, COMPARE)
        elif page:
            skip = busy()
            page = [k for k in page if k not in skip and not (skip_pending and pending.has(k))]
            marked += pending.post_keys(_changed(driver, page), COMPARE) if page else 0
        if between_pages is not None:
            between_pages()
    marked += pending.post_keys(_gone(client, driver, scan_count), COMPARE)
    return seen, marked


def _changed(driver: SyncDriver, page: list[bytes]) -> list[bytes]:
    # The stored fingerprints and the current ones in one round trip (HMGET first, as before).
    stored, *replies = driver.perform(
        Pipeline([Call("hmget", (keys.FOLLOW_FINGERPRINTS, page)), *(read_call(k) for k in page)])
    )
    if isinstance(stored, redis.ResponseError):
        raise stored
    changed = []
    for zkey, raw, reply in zip(page, stored, replies, strict=True):
        if isinstance(reply, redis.ResponseError):
            changed.append(zkey)
            continue
        read = parse_read(reply)
        if read.fingerprint is None:  # another type: compared (and reported) once, then forgotten
            if raw is not None:
                changed.append(zkey)
        elif raw is None or read.fingerprint.dumps().encode() != raw:
            changed.append(zkey)
    return changed


def _gone(client: redis.Redis[Any], driver: SyncDriver, scan_count: int) -> list[bytes]:
    """Keys with a stored fingerprint that no longer exist (deleted while not followed)."""
    gone: list[bytes] = []
    fields = (field for field, _ in client.hscan_iter(keys.FOLLOW_FINGERPRINTS, count=scan_count))
    while chunk := list(islice(fields, scan_count)):
        exists = driver.perform(Pipeline([Call("exists", (k,)) for k in chunk]))
        gone += [k for k, found in zip(chunk, exists, strict=True) if found == 0]
    return gone
