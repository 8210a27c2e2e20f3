"""A model query on a cluster whose search module has no coordinator: one index per primary,
each asked for the keys of its first ``offset + limit`` matches in the query's order, merged by
the sort key the server returns (``WITHSORTKEYS``) and cut to the page; counts are summed. Such
a shard returns no document content (RediSearch 2.10 in cluster mode answers every document's
fields with nil), so the page's records are then read by key (``JSON.GET``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Plan:
    """How each shard is asked, and how its answers are put together."""

    offset: int
    limit: int
    descending: bool
    sortkeys_added: bool
    #: The query wants the documents (not only their keys, or a count).
    fetch: bool


def shard_args(args: Sequence[Any], indexes: Sequence[str]) -> tuple[list[tuple[Any, ...]], Plan]:
    """``FT.SEARCH`` arguments for each index, and the :class:`Plan` to merge their replies."""
    base = list(args)
    offset, limit = 0, 10  # RediSearch's defaults
    words = [str(a).upper() for a in base]
    if "LIMIT" in words:
        at = words.index("LIMIT")
        offset, limit = int(base[at + 1]), int(base[at + 2])
        base[at + 1], base[at + 2] = 0, offset + limit
    else:
        base += ["LIMIT", 0, offset + limit]
    fetch = "NOCONTENT" not in words
    if fetch:
        base.insert(3, "NOCONTENT")
    descending = False
    added = False
    if "SORTBY" in words:
        at = words.index("SORTBY")
        descending = at + 2 < len(words) and words[at + 2] == "DESC"
        if "WITHSORTKEYS" not in words:
            base.insert(3, "WITHSORTKEYS")
            added = True
    per_index = [(base[0], index, *base[2:]) for index in indexes]
    return per_index, Plan(offset, limit, descending, added, fetch)


def _order(sortkey: Any) -> tuple[int, Any]:
    """A sort key as the server writes it: ``#12.5`` (number), ``$text`` (string), None (none)."""
    if sortkey is None:
        return (1, 0)
    text = sortkey.decode() if isinstance(sortkey, bytes) else str(sortkey)
    if text.startswith("#"):
        try:
            return (0, float(text[1:]))
        except ValueError:
            pass
    return (0, text[1:] if text.startswith("$") else text)


def merge(replies: Sequence[dict[Any, Any]], plan: Plan) -> dict[Any, Any]:
    """One reply (RESP3 map, as one server would give) from the shards' replies."""
    total = sum(int(r["total_results"]) for r in replies)
    results: list[Any] = [doc for r in replies for doc in r["results"]]
    if any("sortkey" in doc for doc in results):
        present = [d for d in results if d.get("sortkey") is not None]
        missing = [d for d in results if d.get("sortkey") is None]  # last, either way (as RediSearch)
        present.sort(key=lambda d: _order(d["sortkey"]), reverse=plan.descending)
        results = present + missing
    page = results[plan.offset : plan.offset + plan.limit]
    if plan.sortkeys_added:
        page = [{k: v for k, v in doc.items() if k != "sortkey"} for doc in page]
    merged = dict(replies[0]) if replies else {"attributes": [], "format": "STRING", "warning": []}
    merged["total_results"] = total
    merged["results"] = page
    return merged


def with_documents(merged: dict[Any, Any], documents: Sequence[Any]) -> dict[Any, Any]:
    """``merged`` with each result's document (``JSON.GET`` of its key, in the same order) as a
    search with content returns it; a record deleted since the search is left out."""
    results = [
        {**doc, "extra_attributes": {"$": text}}
        for doc, text in zip(merged["results"], documents, strict=True)
        if text is not None
    ]
    return {**merged, "results": results}
