"""Fast parsing of legacy post members for the bulk jobs (migration, follower).

``translate.parse_member`` builds ``Post`` instances, whose redis-om ``__init__`` costs more
than the rest of the migration together. Here a member is validated in two steps:

1. a strict, Rust-only model of the canonical member (the 7 fields with exactly their JSON
   types: what ``add_user_post`` and the original tool write). What it accepts, ``Post`` accepts
   too, with the same values;
2. anything else goes through a plain pydantic model built from ``Post``'s own field
   definitions (same types, validators, constraints and defaults, so the same members are
   accepted and normalized the same way: numeric ids, fractional timestamps...).

A rejected member's reason is ``translate.parse_member``'s, word for word. Members are parsed
one at a time: joining them into one JSON array would let two malformed members combine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from models.post import Post

from .. import translate
from ..core.codec import POST_MEMBER_FIELDS
from ..core.errors import InvalidPostError


def _member_model() -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for name in POST_MEMBER_FIELDS:
        info = Post.model_fields[name]
        params = (info.annotation, *info.metadata)
        annotation = Annotated[params] if info.metadata else info.annotation  # type: ignore[valid-type]
        fields[name] = (annotation, ... if info.is_required() else info.default)
    config = ConfigDict(
        extra="ignore", str_strip_whitespace=bool(Post.model_config.get("str_strip_whitespace"))
    )
    model: type[BaseModel] = create_model("PostMember", __config__=config, **fields)
    return model


def _canonical_model() -> type[BaseModel]:
    text_id = Annotated[str, Field(min_length=1)]
    model: type[BaseModel] = create_model(
        "CanonicalPostMember",
        __config__=ConfigDict(extra="ignore", strict=True),
        id=(text_id, ...),
        text=(str, ...),
        sender_username=(Annotated[str, Field(min_length=1)], ...),
        timestamp=(Annotated[int, Field(ge=0)], ...),
        quoted_tweet_id=(str | None, None),
        is_reply_to=(str | None, None),
        is_news_summary_tweet=(bool, False),
    )
    return model


PostMember = _member_model()
CanonicalPostMember = _canonical_model()
_FULL = PostMember.__pydantic_validator__
_FAST = CanonicalPostMember.__pydantic_validator__
_SERIALIZERS = {
    PostMember: PostMember.__pydantic_serializer__.to_json,
    CanonicalPostMember: CanonicalPostMember.__pydantic_serializer__.to_json,
}


def parse(raws: list[bytes], on_bad: Callable[[int, str], None]) -> list[Any]:
    """The valid members (with ``Post``'s fields and values); bad ones go to ``on_bad``."""
    fast, full = _FAST.validate_json, _FULL.validate_json
    valid = []
    for i, raw in enumerate(raws):
        try:
            valid.append(fast(raw))
            continue
        except ValidationError:
            pass
        try:
            valid.append(full(raw))
        except ValidationError:
            try:
                translate.parse_member(raw)
                reason = "rejected by the member schema"  # not expected: both share the fields
            except InvalidPostError as exc:
                reason = str(exc)
            on_bad(i, reason)
    return valid


def document(member: Any, account_json: str) -> str:
    """The record JSON of a parsed member listing one account (``account_json`` = JSON of a str).

    Same fields and values as ``translate.document_of``; pydantic's compact separators.
    """
    body: bytes = _SERIALIZERS[type(member)](member)
    return body[:-1].decode() + ',"accounts":[' + account_json + "]}"  # a str: JSON.SET args


def member_text(member: Any) -> bytes:
    """A canonical member text, for previews of posts that could not be written."""
    return bytes(_SERIALIZERS[type(member)](member))
