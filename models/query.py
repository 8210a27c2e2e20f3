"""Query escaping that redis-om 1.2 leaves out, applied to every ``find()`` of our models.

redis-om escapes TAG values with a character list that lacks ``|`` (and splits values at it),
and passes a full-text ``%`` value through raw. Both let a user value change the query.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import redis
from pydantic.fields import FieldInfo
from redis_om.model.model import (
    Expression,
    FindQuery,
    NegatedExpression,
    Operators,
    RediSearchFieldTypes,
)

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


def check_tag_value(field_name: str, value: str) -> str:
    """``value`` if an exact TAG query can be made for it; ``ValueError`` says why not."""
    value = value.strip(_TAG_BLANKS)  # as the index does (results may need an exact filter)
    if not value:
        raise ValueError(f"cannot query {field_name} for a blank value")
    if _UNQUERYABLE.search(value):
        raise ValueError(f"cannot query {field_name} for a value with control characters")
    return value


_WORD = re.compile(r"\w+", re.UNICODE)


def escape_query_value(value: str) -> str:
    """Escape ``value`` so that RediSearch reads it as literal text."""
    return _SPECIAL.sub(lambda m: "\\" + m.group(0), value)


def _tag_values(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


class SafeFindQuery(FindQuery):
    """A FindQuery whose TAG and full-text values always match literally."""

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
        if field_type is RediSearchFieldTypes.TEXT and isinstance(value, str):
            if op is Operators.LIKE:
                # Every word must occur (stemmed, as RediSearch does); no operator is honoured.
                words = _WORD.findall(value)
                return f"@{field_name}_fts:({' '.join(words)})" if words else ""
            if op in (Operators.EQ, Operators.NE):
                clause = f'@{field_name}_fts:"{escape_query_value(value)}"'
                return clause if op is Operators.EQ else f"-({clause})"
        return super().resolve_value(
            field_name, field_type, field_info, op, value, [], model_class
        )

    def execute(
        self,
        exhaust_results: bool = True,
        return_raw_result: bool = False,
        return_query_args: bool = False,
    ) -> Any:
        """Run the query; if the index vanished since this process prepared it (FLUSHALL, a
        server restarted without its data, a dropped index), recreate it and run it once more."""
        try:
            results = super().execute(exhaust_results, return_raw_result, return_query_args)
        except redis.ResponseError as exc:
            if "no such index" not in str(exc).lower():
                raise
            log.warning("index %s is missing: recreating it", self.model._meta.index_name)
            binding.forget()
            results = super().execute(exhaust_results, return_raw_result, return_query_args)
        if return_raw_result or return_query_args:
            return results
        checks = [c for e in self.expressions for c in _exact_tag_checks(self.model, e)]
        if not checks:
            return results
        # The index trims blanks around tags: "bob" also matched " bob ". Keep exact matches.
        return [r for r in results if all(_has_tag(r, name, v) for name, v in checks)]

    def copy(self, **kwargs: Any) -> SafeFindQuery:
        original = self.dict()
        original.update(**kwargs)
        return SafeFindQuery(**original)


def _exact_tag_checks(model: Any, expression: Any) -> list[tuple[str, str]]:
    """(field, value) of the top-level AND-ed ``field == value`` TAG conditions."""
    if isinstance(expression, NegatedExpression) or not isinstance(expression, Expression):
        return []
    if expression.op is Operators.AND:
        return _exact_tag_checks(model, expression.left) + _exact_tag_checks(
            model, expression.right
        )
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
    return actual == value
