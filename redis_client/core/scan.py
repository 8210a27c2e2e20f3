"""SCAN, written once: page by page for the bulk jobs, whole for the API methods."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from .protocol import Call, Op, Primaries

#: COUNT hint of each SCAN call.
SCAN_COUNT = 1000


def pages(
    client: Any, match: str | None = None, count: int = SCAN_COUNT, key_type: str | None = None,
    cursor: int = 0,
) -> Iterator[tuple[int, list[Any]]]:
    """``(cursor, keys)`` page by page with a sync client, until the scan is complete.

    ``cursor`` is the one that yields the page (0 for the first): the place to start again from
    to read this page once more. A key is listed once per page even when SCAN repeats it. On a
    cluster the primaries are scanned one after the other (by name), and a cursor holds which
    one: ``index * NODE_SPAN + its cursor``; it means the same only while the primaries are the
    same (see :func:`topology`).
    """
    if hasattr(client, "get_primaries"):  # a RedisCluster
        nodes = sorted(client.get_primaries(), key=lambda node: node.name)
        first, cursor = divmod(cursor, NODE_SPAN)
        for index in range(first, len(nodes)):
            plain = client.get_redis_connection(nodes[index])
            for at, page in _node_pages(plain, match, count, key_type, cursor if index == first else 0):
                yield index * NODE_SPAN + at, page
        return
    yield from _node_pages(client, match, count, key_type, cursor)


#: A cluster cursor's share per primary (Redis's own cursors are below 2**64).
NODE_SPAN = 2**64


def _node_pages(
    client: Any, match: str | None, count: int, key_type: str | None, cursor: int
) -> Iterator[tuple[int, list[Any]]]:
    while True:
        next_cursor, page = client.scan(cursor, match=match, count=count, _type=key_type)
        yield cursor, list(dict.fromkeys(page))
        cursor = int(next_cursor)
        if cursor == 0:
            return


def topology(client: Any) -> str:
    """What a cluster cursor of :func:`pages` depends on: the primaries and the slots each
    serves ('' on one server). A scan whose topology changed meanwhile is read again."""
    if not hasattr(client, "get_primaries"):
        return ""
    owned: dict[str, list[int]] = {}
    for slot, nodes in sorted(client.nodes_manager.slots_cache.items()):
        if nodes:
            owned.setdefault(nodes[0].name, []).append(int(slot))
    text = ";".join(f"{name}={slots[0]}-{slots[-1]}/{len(slots)}" for name, slots in sorted(owned.items()))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def scan_all(match: str, count: int = SCAN_COUNT, key_type: str | None = None) -> Op[list[bytes]]:
    """Every key matching ``match`` (an operation, for either API); on a cluster, of every primary."""
    found: dict[bytes, None] = {}
    for node in (yield Primaries()):
        cursor = 0
        while True:
            cursor, page = yield Call(
                "scan", (cursor,), {"match": match, "count": count, "_type": key_type}, node=node
            )
            found.update(dict.fromkeys(page))
            if int(cursor) == 0:
                break
    return list(found)
