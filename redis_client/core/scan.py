"""SCAN, written once: page by page for the bulk jobs, whole for the API methods."""

from __future__ import annotations

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
    to read this page once more. A key is listed once per page even when SCAN repeats it.
    """
    while True:
        next_cursor, page = client.scan(cursor, match=match, count=count, _type=key_type)
        yield cursor, list(dict.fromkeys(page))
        cursor = int(next_cursor)
        if cursor == 0:
            return


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
