"""Fast validation of posts: legacy members (the migration, the follower) and the posts given
to ``add_user_post[s]``.

``translate.parse_member`` and ``translate.to_post`` build ``Post`` instances, whose redis-om
``__init__`` and Python validators cost more than the rest of a write together. Here a post is
validated in two steps:

1. a strict model of the canonical member (the 7 fields with exactly their JSON types: what
   ``add_user_post`` and the original tool write), validated by pydantic-core alone. It is
   derived from ``Post``'s field definitions: the same types, defaults and native constraints,
   and in place of each of ``Post``'s Python validators what that validator does to a value of
   the field's own type (``_ON_CANONICAL``). So what it accepts, ``Post`` accepts too, with the
   same values; a validator ``Post`` gains that the table does not know turns the fast path off
   rather than let it accept more than ``Post``. It halves the cost of a canonical member
   (about 1.8 µs instead of 3.3 µs, pydantic 2 on one core), and of a valid ``Post`` more;
2. anything else goes through a plain pydantic model built from ``Post``'s own field
   definitions (same types, validators, constraints and defaults, so the same members are
   accepted and normalized the same way: numeric ids, fractional timestamps...), or, for the
   caller's objects, through ``Post`` itself.

A rejected post's reason is ``translate``'s, word for word. Members are parsed one at a time:
joining them into one JSON array would let two malformed members combine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from annotated_types import MinLen
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainValidator,
    ValidationError,
    WrapValidator,
    create_model,
)

from redis_client.models import post as post_model
from redis_client.models.post import Post

from .. import translate
from ..core.codec import POST_MEMBER_FIELDS
from ..core.errors import InvalidPostError


def _model(
    name: str, source: type[BaseModel], metadata: dict[str, list[object]], strict: bool
) -> type[BaseModel]:
    """A model of the member's fields: ``source``'s types and defaults, with ``metadata``."""
    fields: dict[str, Any] = {}
    for field_name in POST_MEMBER_FIELDS:
        info = source.model_fields[field_name]
        params = (info.annotation, *metadata[field_name])
        annotation = Annotated[params] if metadata[field_name] else info.annotation
        fields[field_name] = (annotation, ... if info.is_required() else info.default)
    config = ConfigDict(
        extra="ignore", str_strip_whitespace=bool(source.model_config.get("str_strip_whitespace"))
    )
    if strict:
        config["strict"] = True
    model: type[BaseModel] = create_model(name, __config__=config, **fields)
    return model


def _member_model() -> type[BaseModel]:
    """The plain model: ``Post``'s fields with their validators and constraints."""
    metadata = {name: list(Post.model_fields[name].metadata) for name in POST_MEMBER_FIELDS}
    return _model("PostMember", Post, metadata, strict=False)


#: What each of ``Post``'s Python validators does to a value that already has its field's JSON
#: type, the only values the strict model lets through: None, nothing (it returns the value);
#: else the native constraint that rejects the same values.
_ON_CANONICAL: dict[Callable[..., Any], object | None] = {
    post_model._text_id: None,  # a str: returned as is
    post_model._optional_text_id: None,  # a str or None: returned as is
    post_model._whole_seconds: None,  # an int: returned as is (strict mode takes no bool for int)
    post_model._non_empty: MinLen(1),  # rejects ""
}
_PYTHON_VALIDATORS = (AfterValidator, BeforeValidator, PlainValidator, WrapValidator)


def _canonical_model(source: type[BaseModel] = Post) -> type[BaseModel] | None:
    """The strict model of the canonical member, from ``source``'s fields (None: one of its
    validators has no known equivalent, so there is no fast path)."""
    metadata: dict[str, list[object]] = {}
    for name in POST_MEMBER_FIELDS:
        kept = metadata[name] = []
        for item in source.model_fields[name].metadata:
            if not isinstance(item, _PYTHON_VALIDATORS):
                kept.append(item)  # a native constraint (min_length, ge...)
                continue
            if item.func not in _ON_CANONICAL:
                return None
            native = _ON_CANONICAL[item.func]
            if native is not None:
                kept.append(native)
    return _model("CanonicalPostMember", source, metadata, strict=True)


PostMember = _member_model()
CanonicalPostMember = _canonical_model()
_MODELS = [m for m in (CanonicalPostMember, PostMember) if m is not None]
_SERIALIZERS = {m: m.__pydantic_serializer__.to_json for m in _MODELS}
_canonical_python: Callable[[Any], Any] | None = (
    CanonicalPostMember.__pydantic_validator__.validate_python if CanonicalPostMember else None
)


def parse(raws: list[bytes], on_bad: Callable[[int, str], None]) -> list[Any]:
    """The valid members (with ``Post``'s fields and values); bad ones go to ``on_bad``."""
    full = PostMember.__pydantic_validator__.validate_json
    fast = CanonicalPostMember.__pydantic_validator__.validate_json if CanonicalPostMember else full
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


def validate(post: Any) -> Any:
    """A post given to ``add_user_post[s]`` (a ``Post``, a mapping, or any object with the post
    attributes), validated as ``Post`` validates it: an object with ``Post``'s 7 member fields
    and values. :class:`InvalidPostError` (``translate.to_post``'s) when it is not a valid post."""
    data = post.__dict__ if isinstance(post, Post) else post  # a Post may have been mutated
    if isinstance(data, Mapping) and _canonical_python is not None:
        try:
            return _canonical_python(data)
        except ValidationError:
            pass  # not canonical (or not valid): Post says which
    return translate.to_post(post)


def body(member: Any) -> str:
    """The JSON object of a parsed member: the fields and values of the record ``add_user_post``
    writes, without its account list (``ADD_POSTS`` adds it); pydantic's compact separators."""
    return bytes(_SERIALIZERS[type(member)](member)).decode()


def document(member: Any, account_json: str) -> str:
    """The record JSON of a parsed member listing one account (``account_json`` = JSON of a str)."""
    return body(member)[:-1] + ',"accounts":[' + account_json + "]}"


def member_text(member: Any) -> bytes:
    """A canonical member text, for previews of posts that could not be written."""
    return bytes(_SERIALIZERS[type(member)](member))
