"""``SafeFindQuery``: redis-om's ``FindQuery`` with stricter escaping, run by either API.

redis-om 1.2 escapes TAG values with a character list that lacks ``|`` (and splits values at
it), and passes a full-text ``%`` value through raw: both let a user value change the query.
Here every TAG and text value matches literally. Execution is an operation (see
``redis_client.core.protocol``): ``all()``/``first()``/``count()``/``page()`` run it with the sync
client, ``aall()``/``afirst()``/``acount()``/``apage()`` with the asyncio one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import redis
from pydantic.fields import FieldInfo
from redis_om import NotFoundError
from redis_om.model.model import (
    DEFAULT_PAGE_SIZE,
    Expression,
    FindQuery,
    NegatedExpression,
    Operators,
    RediSearchFieldTypes,
)
from redis_om.search_reply import search_total

from redis_client.core import fanout
from redis_client.core.errors import QueryValueError
from redis_client.core.protocol import Call, ForgetIndexes, Indexes, Models, Op, Pipeline

from . import binding

log = logging.getLogger(__name__)

# Every ASCII character but letters, digits and '_' is escaped: RediSearch accepts a backslash
# before any punctuation, and an over-escaped character still matches itself. Non-ASCII
# characters are term characters for its byte-level lexer and must not be escaped: a backslash
# there escapes only the first byte of the UTF-8 sequence (a syntax error, or no match).
_SPECIAL = re.compile(r"[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]")
#: Blanks RediSearch trims around a TAG value when indexing (C isspace), and the characters no
#: query can express (NUL ends the value, \x01 is our separator, the others read as blanks).
_TAG_BLANKS = " \t\n\v\f\r"
_UNQUERYABLE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_WORD = re.compile(r"\w+", re.UNICODE)
#: How a clause on the words of a text field starts (user values never hold it: ':' is escaped).
_FULL_TEXT = "_fts:"
#: RediSearch's default stop words: not indexed, and a query made of them only is a syntax error.
STOPWORDS = frozenset({
    "a", "is", "the", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into",
    "it", "no", "not", "of", "on", "or", "such", "that", "their", "then", "there", "these", "they",
    "this", "to", "was", "will", "with",
})


def query_words(value: str) -> list[str]:
    """The words of ``value`` as the index holds them: no punctuation, no stop words."""
    return [
        w for w in _WORD.findall(value) if any(c.isalnum() for c in w) and w.lower() not in STOPWORDS
    ]


def check_tag_value(field_name: str, value: str) -> str:
    """``value`` if an exact TAG query can be made for it; :class:`QueryValueError` says why not."""
    value = value.strip(_TAG_BLANKS)  # as the index does (results may need an exact filter)
    if not value:
        raise QueryValueError(f"cannot query {field_name} for a blank value")
    if _UNQUERYABLE.search(value):
        raise QueryValueError(f"cannot query {field_name} for a value with control characters")
    return value


def escape_query_value(value: str) -> str:
    """Escape ``value`` so that RediSearch reads it as literal text."""
    return _SPECIAL.sub(lambda m: "\\" + m.group(0), value)


def _tag_values(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


class SafeFindQuery(FindQuery):  # type: ignore[misc]
    """A FindQuery whose TAG and full-text values always match literally."""

    def __init__(
        self,
        expressions: Sequence[Any],
        model: Any,
        knn: Any = None,
        offset: int = 0,
        limit: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        sort_fields: list[str] | None = None,
        projected_fields: list[str] | None = None,
        nocontent: bool = False,
        return_as_dict: bool = False,
    ) -> None:
        # FindQuery.__init__ less its module check, which is a blocking round trip on first use
        # (asyncio code builds queries too); the Models request checks the modules instead.
        self.expressions = expressions
        self.model = model
        self.knn = knn
        self.offset = offset
        self.limit = limit or (self.knn.k if self.knn else DEFAULT_PAGE_SIZE)
        self.page_size = page_size
        self.nocontent = nocontent
        if sort_fields:
            self.sort_fields = self.validate_sort_fields(sort_fields)
        elif self.knn:
            self.sort_fields = [self.knn.score_field_name]
        else:
            self.sort_fields = []
        self.projected_fields = self.validate_projected_fields(projected_fields) if projected_fields else []
        self.return_as_dict = return_as_dict
        self._expression = None
        self._query: str | None = None
        self._pagination: list[str] = []
        self._model_cache: list[Any] = []

    @classmethod
    def resolve_value(
        cls,
        field_name: str,
        field_type: RediSearchFieldTypes,
        field_info: Any,
        op: Operators,
        value: Any,
        parents: list[tuple[str, Any]],
        model_class: Any = None,
    ) -> str:
        if parents:
            field_name = "_".join(p[0] for p in parents) + "_" + field_name
        if field_name in getattr(model_class, "NOT_INDEXED", ()):
            # The server would answer "no match" for a field its index lacks: refuse instead.
            raise QueryValueError(f"{model_class.__name__}.{field_name} is not indexed for queries")
        full_text = getattr(field_info, "full_text_search", False) is True
        if full_text and isinstance(value, str) and op in (Operators.EQ, Operators.NE):
            # Equality on a text field: its phrase in the index of words, then (in execute_op)
            # only the records whose text is exactly the value. The index holds no whole-text tag.
            words = query_words(value)
            if not words:
                raise QueryValueError(
                    f"cannot query {field_name} for a value without indexed words (stop words "
                    "and punctuation are not indexed)"
                )
            clause = f'@{field_name}_fts:"{" ".join(words)}"'
            return clause if op is Operators.EQ else f"-({clause})"
        if field_type is RediSearchFieldTypes.TAG and isinstance(value, (str, list, tuple, set)):
            if isinstance(value, str) and op in (Operators.EQ, Operators.NE):
                value = check_tag_value(field_name, value)
                clause = f"@{field_name}:{{{escape_query_value(value)}}}"
                return clause if op is Operators.EQ else f"-({clause})"
            if op in (Operators.IN, Operators.NOT_IN):
                alts = "|".join(
                    escape_query_value(check_tag_value(field_name, v)) for v in _tag_values(value)
                )
                clause = f"(@{field_name}:{{{alts}}})"
                return clause if op is Operators.IN else f"-{clause}"
        if field_type is RediSearchFieldTypes.TEXT and isinstance(value, str) and op is Operators.LIKE:
            # Every word must occur (stemmed, as RediSearch does); no operator is honoured.
            words = query_words(value)
            return f"@{field_name}_fts:({' '.join(words)})" if words else ""
        return str(
            super().resolve_value(field_name, field_type, field_info, op, value, [], model_class)
        )

    def copy(self, **kwargs: Any) -> SafeFindQuery:
        original = self.dict()
        original.update(**kwargs)
        return SafeFindQuery(**original)

    def query_args(self) -> list[Any]:
        """The FT.SEARCH command of this query (no I/O)."""
        _, args = super().execute(return_query_args=True)
        return list(args)

    # --- the operations ---

    def _search(self) -> Op[Any]:
        """FT.SEARCH; if the index vanished since it was checked (FLUSHALL, a server restarted
        empty, a dropped index), it is made again and the search runs once more."""
        yield Models(require=True)
        args = tuple(self.query_args())
        if _FULL_TEXT in self.query and not binding.connector().settings.full_text_search:
            raise QueryValueError(
                "full-text search is off (REDIS_FULL_TEXT_SEARCH=false): the words of Post.text "
                "are not indexed"
            )
        try:
            return (yield from _search_all(args))
        except redis.ResponseError as exc:
            if "no such index" not in str(exc).lower():
                raise
        log.warning("index %s is missing: recreating it", self.model._meta.index_name)
        yield ForgetIndexes()
        yield Models(require=True)
        return (yield from _search_all(args))

    def _parse(self, reply: Any) -> list[Any]:
        if self.projected_fields:
            if self._has_complex_projected_fields():
                if self.return_as_dict:
                    return list(self._parse_full_document_projection_as_dict(reply))
                return list(self._parse_full_document_projection_as_models(reply))
            if self.return_as_dict:
                return list(self._parse_projected_results(reply))
            return list(self._parse_projected_models(reply))
        results = self.model.from_redis(reply, self.knn)
        if self.return_as_dict:
            return [m.model_dump() for m in results]
        return list(results)

    def execute_op(self, exhaust_results: bool = True, return_raw_result: bool = False) -> Op[Any]:
        reply = yield from self._search()
        if return_raw_result:
            return reply
        results = self._parse(reply)
        if exhaust_results and search_total(reply) > len(results):
            query = self
            while True:  # the remaining pages, as redis-om does
                query = query.copy(offset=query.offset + query.page_size)
                more = query._parse((yield from query._search()))
                if not more:
                    break
                results += more
        checks = [c for e in self.expressions for c in _exact_tag_checks(self.model, e)]
        if not checks or self.return_as_dict or self.projected_fields:
            return results
        # The index trims blanks around tags: "bob" also matched " bob ". Keep exact matches.
        return [r for r in results if all(_has_tag(r, name, v) for name, v in checks)]

    def _all_op(self, batch_size: int) -> Op[list[Any]]:
        query = self if batch_size == self.page_size else self.copy(page_size=batch_size, limit=batch_size)
        results: list[Any] = yield from query.execute_op()
        return results

    def _first_op(self) -> Op[Any]:
        query = self.copy(offset=0, limit=1, sort_fields=self.sort_fields)
        results = yield from query.execute_op(exhaust_results=False)
        if not results:
            raise NotFoundError()
        return results[0]

    def _count_op(self) -> Op[int]:
        query = self.copy(offset=0, limit=0, nocontent=True)
        return int(search_total((yield from query.execute_op(return_raw_result=True))))

    def _page_op(self, offset: int, limit: int) -> Op[list[Any]]:
        query = self.copy(offset=offset, limit=limit)
        results: list[Any] = yield from query.execute_op(exhaust_results=False)
        return results

    # --- sync (redis-om's names) ---

    def execute(
        self, exhaust_results: bool = True, return_raw_result: bool = False, return_query_args: bool = False
    ) -> Any:
        if return_query_args:
            return self.model._meta.index_name, self.query_args()
        return binding.run(self.execute_op(exhaust_results, return_raw_result))

    def all(self, batch_size: int = DEFAULT_PAGE_SIZE) -> list[Any]:
        return binding.run(self._all_op(batch_size))

    def first(self) -> Any:
        return binding.run(self._first_op())

    def count(self) -> int:
        return binding.run(self._count_op())

    def page(self, offset: int = 0, limit: int = 10) -> list[Any]:
        return binding.run(self._page_op(offset, limit))

    # --- asyncio (Django's "a" prefix) ---

    async def aall(self, batch_size: int = DEFAULT_PAGE_SIZE) -> list[Any]:
        return await binding.arun(self._all_op(batch_size))

    async def afirst(self) -> Any:
        return await binding.arun(self._first_op())

    async def acount(self) -> int:
        return await binding.arun(self._count_op())

    async def apage(self, offset: int = 0, limit: int = 10) -> list[Any]:
        return await binding.arun(self._page_op(offset, limit))


def _search_all(args: tuple[Any, ...]) -> Op[Any]:
    """``FT.SEARCH``; on a cluster without a search coordinator, on each primary's index, merged
    (see ``redis_client.core.fanout``)."""
    names = yield Indexes(args[1])
    if names is None:  # the primaries changed: their indexes are made ready again
        yield ForgetIndexes()
        yield Models(require=True)
        names = yield Indexes(args[1])
    if names == [args[1]]:
        return (yield Call("execute_command", args, text=True))
    if any(str(a).upper() == "RETURN" for a in args[3:]):
        raise QueryValueError(
            "a projection (only(), values()) needs the search to return content, which the search "
            "module of a cluster without a coordinator does not: query whole records"
        )
    per_index, plan = fanout.shard_args(args, names)
    replies = yield Pipeline([Call("execute_command", a, text=True) for a in per_index], text=True)
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    merged = fanout.merge(replies, plan)
    if not plan.fetch or not merged["results"]:
        return merged
    reads = [Call("execute_command", ("JSON.GET", doc["id"]), text=True) for doc in merged["results"]]
    documents = yield Pipeline(reads, text=True)
    for document in documents:
        if isinstance(document, Exception):
            raise document
    return fanout.with_documents(merged, documents)


def _exact_tag_checks(model: Any, expression: Any) -> list[tuple[str, str]]:
    """(field, value) of the top-level AND-ed ``field == value`` TAG conditions."""
    if isinstance(expression, NegatedExpression) or not isinstance(expression, Expression):
        return []
    if expression.op is Operators.AND:
        return _exact_tag_checks(model, expression.left) + _exact_tag_checks(model, expression.right)
    left, right = expression.left, expression.right
    if expression.op is not Operators.EQ or expression.parents or not isinstance(right, str):
        return []
    if not isinstance(left, FieldInfo):
        return []
    if FindQuery.resolve_field_type(left, expression.op) is not RediSearchFieldTypes.TAG:
        return []
    return [(str(getattr(left, "name", "")), right)]


def _has_tag(record: Any, name: str, value: str) -> bool:
    actual = getattr(record, name, None)
    if isinstance(actual, (list, tuple, set)):
        return value in actual
    return bool(actual == value)
