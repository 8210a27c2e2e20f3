"""Which ``Post`` records list an account: a query of the posts index, filtered exactly.

RediSearch trims blanks around tag values, so ``@accounts:{bob}`` also matches a record of the
account ``" bob"``; every result therefore carries its ``accounts`` array and only the records
whose array holds the username exactly are kept. A username no exact query can be made for
(blank, or with control characters) answers None: the caller then cannot find removals through
the index. On a cluster whose search module has no coordinator, each primary's index is asked
(the records of each primary) and, as such a shard returns no document content, the ``accounts``
of the records found are read by key.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from redis_client.models.query import check_tag_value, escape_query_value

from ..core import codec, indexes, keys
from ..core.drivers import SyncDriver
from ..core.errors import QueryValueError, server_message
from ..core.protocol import Call, ForgetIndexes, Indexes, Models, Op, Pipeline

log = logging.getLogger("redis_client.follow")

INDEX = keys.model_index(keys.POST_PREFIX)
#: Results per FT.SEARCH page (small pages keep every call short).
PAGE = 1_000


def ensure_index(driver: SyncDriver, forget: bool = False) -> None:
    """Require the JSON and search modules and the model indexes, and wait until the posts index
    is complete; ``forget``: check the indexes anew (dropped, or the server restarted empty)."""
    if forget:
        driver.perform(ForgetIndexes())
    driver.perform(Models(require=True))
    for name in driver.run(index_names()):
        driver.run(indexes.wait_indexed(name))


def index_names() -> Op[list[str]]:
    """The names the posts index is queried by: its own on one server, one per primary on a
    cluster without a search coordinator (made ready again when the primaries changed)."""
    names = yield Indexes(INDEX)
    if names is None:
        yield ForgetIndexes()
        yield Models(require=True)
        names = yield Indexes(INDEX)
    return list(names) if names else [INDEX]


def query_of(username: str) -> str | None:
    """The tag query of the records listing ``username``; None when none can be made."""
    try:
        return "@accounts:{" + escape_query_value(check_tag_value("accounts", username)) + "}"
    except QueryValueError:
        return None


def search_call(query: str, offset: int, index: str = INDEX) -> Call:
    # TIMEOUT 0: no partial answer on a busy server (its default answers what it found so far).
    args = ("FT.SEARCH", index, query, "RETURN", "1", "$.accounts", "LIMIT", offset, PAGE, "TIMEOUT", 0)
    return Call("execute_command", args)


@dataclass
class Found:
    """What :func:`find` found."""

    #: Per account asked, the ids of the records that list it; None where a query failed.
    ids: list[set[str] | None]
    #: A query failed because an index does not exist (dropped, or the server restarted empty).
    index_gone: bool


def find(wanted: Sequence[tuple[str, str]]) -> Op[Found]:
    """The records listing each of ``wanted`` (username, ``query_of`` it): every page of every
    index, in as few round trips as the pages allow."""
    names = yield from index_names()
    ids: list[set[str] | None] = [set() for _ in wanted]
    unread: list[tuple[int, str]] = []  # (which account, record key) returned without accounts
    gone = False
    todo = [(i, name, 0) for i in range(len(wanted)) for name in names]
    while todo:
        replies = yield Pipeline([search_call(wanted[i][1], offset, name) for i, name, offset in todo])
        more = []
        for (i, name, offset), reply in zip(todo, replies, strict=True):
            into = ids[i]
            if into is None:
                continue
            if isinstance(reply, redis.ResponseError):
                gone |= _index_gone(reply)
                ids[i] = None
                continue
            keys_only: list[str] = []
            total = parse_page(reply, wanted[i][0], into, keys_only)
            unread += [(i, key) for key in keys_only]
            if offset == 0:
                more += [(i, name, o) for o in range(PAGE, total, PAGE)]
        todo = more
    if unread:
        reads = yield Pipeline([Call("execute_command", ("JSON.GET", k, "$.accounts")) for _, k in unread])
        for (i, key), reply in zip(unread, reads, strict=True):
            into = ids[i]
            if into is None or isinstance(reply, redis.ResponseError):
                continue
            if wanted[i][0] in _accounts(reply):
                into.add(keys.model_pk_from_key(key, keys.POST_PREFIX))
    return Found(ids, gone)


def _index_gone(error: redis.ResponseError) -> bool:
    """Whether a query failed because the posts index does not exist (else the error is logged)."""
    message = server_message(error)
    if "no such index" in message.lower() or "unknown index" in message.lower():
        return True
    log.warning("cannot query the posts index: %s", message)
    return False


def _results(reply: Any) -> tuple[int, Iterator[tuple[str, Any]]]:
    """(total, (record key, accounts JSON)...) of an FT.SEARCH reply, RESP3 or RESP2."""
    if isinstance(reply, dict):
        total = int(reply.get(b"total_results", reply.get("total_results")) or 0)
        results: list[Any] = reply.get(b"results", reply.get("results")) or []

        def resp3() -> Iterator[tuple[str, Any]]:
            for res in results:
                attrs = res.get(b"extra_attributes", res.get("extra_attributes")) or {}
                record_key = codec.text(res.get(b"id", res.get("id")), "surrogateescape")
                yield record_key, attrs.get(b"$.accounts", attrs.get("$.accounts"))

        return total, resp3()

    def resp2() -> Iterator[tuple[str, Any]]:
        for key, values in zip(reply[1::2], reply[2::2], strict=True):
            pairs = dict(zip(values[::2], values[1::2], strict=True)) if values else {}
            yield codec.text(key, "surrogateescape"), pairs.get(b"$.accounts", pairs.get("$.accounts"))

    return int(reply[0]), resp2()


def parse_page(reply: Any, username: str, into: set[str], unread: list[str] | None = None) -> int:
    """Add to ``into`` the ids of the page's records that list ``username``, and to ``unread``
    the keys of the records returned without their accounts (a cluster shard's reply); returns
    the total."""
    total, results = _results(reply)
    for record_key, accounts_json in results:
        if accounts_json is None:
            if unread is not None:
                unread.append(record_key)
        elif username in _accounts(accounts_json):
            into.add(keys.model_pk_from_key(record_key, keys.POST_PREFIX))
    return total


def _accounts(text: Any) -> list[Any]:
    """The ``accounts`` array of a ``$.accounts`` reply (JSON text), [] when there is none."""
    try:
        accounts = json.loads(text)
    except (ValueError, TypeError):
        return []
    if isinstance(accounts, list) and accounts and isinstance(accounts[0], list):
        accounts = accounts[0]  # a dialect that wraps path results in an array
    return accounts if isinstance(accounts, list) else []
