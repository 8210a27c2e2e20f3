"""Which ``Post`` records list an account: a query of the posts index, filtered exactly.

RediSearch trims blanks around tag values, so ``@accounts:{bob}`` also matches a record of the
account ``" bob"``; every result therefore carries its ``accounts`` array and only the records
whose array holds the username exactly are kept. A username no exact query can be made for
(blank, or with control characters) answers None: the caller then cannot find removals through
the index.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from redis_client.models.query import check_tag_value, escape_query_value

from ..core import codec, indexes, keys
from ..core.drivers import SyncDriver
from ..core.errors import QueryValueError
from ..core.protocol import Call, ForgetIndexes, Models

INDEX = keys.model_index(keys.POST_PREFIX)
#: Results per FT.SEARCH page (small pages keep every call short).
PAGE = 1_000


def ensure_index(driver: SyncDriver, forget: bool = False) -> None:
    """Require the JSON and search modules and the model indexes, and wait until the posts index
    is complete; ``forget``: check the indexes anew (dropped, or the server restarted empty)."""
    if forget:
        driver.perform(ForgetIndexes())
    driver.perform(Models(require=True))
    driver.run(indexes.wait_indexed(INDEX))


def query_of(username: str) -> str | None:
    """The tag query of the records listing ``username``; None when none can be made."""
    try:
        return "@accounts:{" + escape_query_value(check_tag_value("accounts", username)) + "}"
    except QueryValueError:
        return None


def search_call(query: str, offset: int) -> Call:
    # TIMEOUT 0: no partial answer on a busy server (its default answers what it found so far).
    args = ("FT.SEARCH", INDEX, query, "RETURN", "1", "$.accounts", "LIMIT", offset, PAGE, "TIMEOUT", 0)
    return Call("execute_command", args)


def _results(reply: Any) -> tuple[int, Iterator[tuple[str, Any]]]:
    """(total, (record key, accounts JSON)...) of an FT.SEARCH reply, RESP3 or RESP2."""
    if isinstance(reply, dict):
        total = int(reply.get(b"total_results", reply.get("total_results")) or 0)
        results: list[Any] = reply.get(b"results", reply.get("results")) or []

        def resp3() -> Iterator[tuple[str, Any]]:
            for res in results:
                attrs = res.get(b"extra_attributes", res.get("extra_attributes", {}))
                record_key = codec.text(res.get(b"id", res.get("id")), "surrogateescape")
                yield record_key, attrs.get(b"$.accounts", attrs.get("$.accounts"))

        return total, resp3()

    def resp2() -> Iterator[tuple[str, Any]]:
        for key, values in zip(reply[1::2], reply[2::2], strict=True):
            pairs = dict(zip(values[::2], values[1::2], strict=True)) if values else {}
            yield codec.text(key, "surrogateescape"), pairs.get(b"$.accounts", pairs.get("$.accounts"))

    return int(reply[0]), resp2()


def parse_page(reply: Any, username: str, into: set[str]) -> int:
    """Add to ``into`` the ids of the page's records that list ``username``; returns the total."""
    total, results = _results(reply)
    for record_key, accounts_json in results:
        try:
            accounts = json.loads(accounts_json) if accounts_json is not None else []
        except ValueError:
            continue
        if isinstance(accounts, list) and accounts and isinstance(accounts[0], list):
            accounts = accounts[0]  # a dialect that wraps path results in an array
        if isinstance(accounts, list) and username in accounts:
            into.add(keys.model_pk_from_key(record_key, keys.POST_PREFIX))
    return total
