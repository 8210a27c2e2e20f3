"""Query escaping that redis-om 1.2 leaves out, applied to every ``find()`` of our models.

redis-om escapes TAG values with a character list that lacks ``|`` (and splits values at it),
and passes a full-text ``%`` value through raw. Both let a user value change the query.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import redis
from redis_om.model.model import FindQuery, Operators, RediSearchFieldTypes

from . import binding

log = logging.getLogger(__name__)

# Every ASCII character but letters, digits and '_' is escaped: RediSearch accepts a backslash
# before any punctuation, and an over-escaped character still matches itself. Non-ASCII
# characters are term characters for its byte-level lexer and must not be escaped: a backslash
# there escapes only the first byte of the UTF-8 sequence (a syntax error, or no match).
_SPECIAL = re.compile(r"[\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]")
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
                # RediSearch trims blanks around tags when indexing: query the trimmed value too.
                value = value.strip()
                if not value:
                    raise ValueError(f"cannot query {field_name} for a blank tag value")
                clause = f"@{field_name}:{{{escape_query_value(value)}}}"
                return clause if op is Operators.EQ else f"-({clause})"
            if op in (Operators.IN, Operators.NOT_IN):
                alts = "|".join(escape_query_value(v.strip()) for v in _tag_values(value))
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
            return super().execute(exhaust_results, return_raw_result, return_query_args)
        except redis.ResponseError as exc:
            if "no such index" not in str(exc).lower():
                raise
        log.warning("index %s is missing: recreating it", self.model._meta.index_name)
        binding.forget()
        return super().execute(exhaust_results, return_raw_result, return_query_args)

    def copy(self, **kwargs: Any) -> SafeFindQuery:
        original = self.dict()
        original.update(**kwargs)
        return SafeFindQuery(**original)
