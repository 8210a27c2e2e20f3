"""Translation between the legacy layout and the model records (both directions)."""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, cast

from pydantic import ValidationError

from redis_client.models.account import SECRET_FIELDS, TwitterAccount
from redis_client.models.post import Post

from .core.codec import POST_MEMBER_FIELDS, post_member
from .core.errors import InvalidAccountDataError, InvalidPostError

#: ``twitter_data`` hash fields copied into ``TwitterAccount`` (record field <- legacy field).
ACCOUNT_FIELDS: dict[str, str] = {"name": "name", "twitter_id": "id", "expires_at": "expires_at"}


def describe_errors(exc: ValidationError) -> str:
    """Field names and reasons, never the offending values (they may be secrets or huge)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'post'}: {err['msg']}"
        for err in exc.errors(include_input=False, include_url=False)
    )


def to_post(obj: Any) -> Post:
    """Validate a ``Post``, a dict, or any object with the post attributes."""
    if isinstance(obj, Post):
        data: Any = obj.__dict__  # its field values (re-validated: it may have been mutated)
    elif isinstance(obj, Mapping):
        data = dict(obj)
    else:
        data = {name: getattr(obj, name) for name in POST_MEMBER_FIELDS if hasattr(obj, name)}
    try:
        return cast(Post, Post.model_validate(data))
    except ValidationError as exc:
        raise InvalidPostError(f"invalid post: {describe_errors(exc)}") from None


def member_of(post: Post) -> str:
    """The legacy sorted-set member of a validated post."""
    return post_member(post.__dict__)


def accounts_suffix(accounts: Iterable[str]) -> str:
    """The end of a record's JSON after the 7 member fields (see ``document_from_member``)."""
    return ', "accounts": ' + json.dumps(list(accounts)) + "}"


def document_from_member(member: str, suffix: str) -> str:
    """The record JSON of a post listing ``accounts``, from ``member_of(post)`` and
    ``accounts_suffix(accounts)``.

    Both are ``json.dumps`` (default separators) of the same dict, the record's with one more
    key last: the same text, one serialisation instead of two.
    """
    return member[:-1] + suffix


def parse_member(raw: bytes | str) -> Post:
    """A legacy member as a ``Post``; :class:`InvalidPostError` says why it is unusable."""
    try:
        # == Post.model_validate_json(raw), without its Python wrapper (~25% of a member's parse).
        return Post.__pydantic_validator__.validate_json(raw)  # type: ignore[no-any-return]
    except ValidationError as exc:
        raise InvalidPostError(describe_errors(exc)) from None


def parse_members(raws: list[bytes], on_bad: Any = None) -> list[Post]:
    """Parse many members; bad ones are passed to ``on_bad(index, reason)`` and skipped.

    One at a time: parsing ``[m1,m2,...]`` as one JSON array would let malformed members combine
    (``{..}, {"id": "2"`` followed by ``"text": ..}`` reads as two valid posts).
    """
    posts = []
    with _gc_paused(len(raws) >= GC_PAUSE_MIN):
        for i, raw in enumerate(raws):
            try:
                posts.append(parse_member(raw))
            except InvalidPostError as exc:
                if on_bad is not None:
                    on_bad(i, str(exc))
    return posts


#: From this many members on, ``parse_members`` holds off the cyclic GC while it builds them.
GC_PAUSE_MIN = 2000


@contextlib.contextmanager
def _gc_paused(pause: bool) -> Iterator[None]:
    """Each ``Post`` is 4 GC-tracked objects that cannot be garbage: past ~20k of them, CPython's
    full collections (which walk the whole heap) cost more than the parsing itself."""
    if not pause or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def twitter_data_fields(value: Any) -> dict[str, Any]:
    """The fields of a ``twitter_data`` value: a hash (dict) or an older JSON string."""
    if isinstance(value, Mapping):
        return {_text(k): _text(v) for k, v in value.items()}
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError, UnicodeDecodeError):
        raise InvalidAccountDataError("twitter_data is neither a hash nor a JSON object") from None
    if not isinstance(parsed, dict):
        raise InvalidAccountDataError("twitter_data JSON is not an object")
    return parsed


def account_record(
    username: str, data: Mapping[str, Any], action_times: Mapping[str, float]
) -> TwitterAccount:
    """A ``TwitterAccount`` from legacy fields; token fields are dropped before anything else."""
    safe = {k: v for k, v in data.items() if k not in SECRET_FIELDS}
    fields: dict[str, Any] = {"username": username}
    for target, source in ACCOUNT_FIELDS.items():
        if safe.get(source) not in (None, ""):
            fields[target] = safe[source]
    known = set(TwitterAccount.model_fields)
    fields["other_action_times"] = {}
    for action, ts in action_times.items():
        if action in known:
            fields[action] = ts
        else:
            fields["other_action_times"][action] = ts
    try:
        return cast(TwitterAccount, TwitterAccount.model_validate(fields))
    except ValidationError as exc:
        raise InvalidAccountDataError(f"invalid account data: {describe_errors(exc)}") from None


def _text(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
