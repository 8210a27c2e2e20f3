"""The fast member parser (``redis_client.records.members``) agrees with ``Post``, member by member."""

from __future__ import annotations

import json
from typing import Annotated

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from legacy_data import BAD_MEMBERS
from pydantic import BaseModel, BeforeValidator

from redis_client import translate
from redis_client.core.codec import post_member
from redis_client.core.errors import InvalidPostError
from redis_client.models.post import Post
from redis_client.records import members

VALID = [
    {"id": 1, "text": "numeric", "sender_username": "a", "timestamp": 1},
    {"id": 1.0, "text": "float id", "sender_username": "a", "timestamp": 1},
    {"id": "x", "text": "", "sender_username": "a", "timestamp": 1.99},
    {"id": "x", "text": "t", "sender_username": "a", "timestamp": 0, "extra": {"n": 1}},
    {"id": "x", "text": " spaced ", "sender_username": " a ", "timestamp": 3,
     "quoted_tweet_id": 5, "is_reply_to": "7", "is_news_summary_tweet": True},
    {"id": "ü", "text": "ünï\n", "sender_username": "a:b", "timestamp": 10**10},
]
MORE_BAD = [
    {"id": 1.5, "text": "t", "sender_username": "a", "timestamp": 1},
    {"id": "x", "text": "t", "sender_username": "", "timestamp": 1},
    {"id": "x", "text": "t", "sender_username": "a", "timestamp": True},
    {"id": "x", "text": "t", "sender_username": "a", "timestamp": 1, "is_news_summary_tweet": "maybe"},
    {"id": "x", "text": None, "sender_username": "a", "timestamp": 1},
]


@pytest.mark.parametrize("fields", VALID)
def test_member_parser_accepts_what_post_accepts(fields: dict[str, object]) -> None:
    raw_member = json.dumps(fields).encode()
    post = translate.parse_member(raw_member)
    (parsed,) = members.parse([raw_member], on_bad=lambda i, r: pytest.fail(r))
    doc = json.loads(members.document(parsed, json.dumps("acc")))
    assert doc == json.loads(_document(post, "acc"))


@pytest.mark.parametrize("raw_member", BAD_MEMBERS + [json.dumps(f) for f in MORE_BAD])
def test_member_parser_rejects_what_post_rejects(raw_member: str) -> None:
    with pytest.raises(InvalidPostError) as exc:
        translate.parse_member(raw_member)
    reasons: list[str] = []
    good = members.parse([b'{"id":"ok","text":"t","sender_username":"a","timestamp":1}',
                          raw_member.encode()], on_bad=lambda i, r: reasons.append(r))
    assert len(good) == 1 and reasons == [str(exc.value)]


def test_malformed_members_never_combine() -> None:
    """Parsed one at a time: two halves of a post are two bad members, not one post."""
    first = b'{"id": "a", "text": "t", "sender_username": "u", "timestamp": 1, "y": "'
    second = b'"}'
    twice = (b'{"id": "b", "text": "t", "sender_username": "u", "timestamp": 1}, '
             b'{"id": "c", "text": "t", "sender_username": "u", "timestamp": 1}')
    bad: list[int] = []
    assert members.parse([twice, first, second], on_bad=lambda i, r: bad.append(i)) == []
    assert bad == [0, 1, 2]


_json_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 2**64), st.floats(allow_nan=True),
    st.text(max_size=5), st.lists(st.integers(0, 3), max_size=2),
)
_member_dict = st.fixed_dictionaries(
    {},
    optional={
        name: _json_scalar
        for name in ("id", "text", "sender_username", "timestamp", "quoted_tweet_id",
                     "is_reply_to", "is_news_summary_tweet", "extra")
    },
)


@settings(max_examples=400, deadline=None)
@given(_member_dict)
def test_member_parser_agrees_with_post(fields: dict[str, object]) -> None:
    raw_member = json.dumps(fields).encode()
    try:
        expected: str | None = _document(translate.parse_member(raw_member), "u")
    except InvalidPostError:
        expected = None
    parsed = members.parse([raw_member], on_bad=lambda i, r: None)
    if expected is None:
        assert parsed == []
    else:
        assert len(parsed) == 1
        assert json.loads(members.document(parsed[0], '"u"')) == json.loads(expected)


def _document(post: object, account: str) -> str:
    """The record JSON ``add_user_post`` writes for ``post`` under one account."""
    member = translate.member_of(post)  # type: ignore[arg-type]
    return translate.document_from_member(member, translate.accounts_suffix([account]))


def test_the_strict_model_is_derived_from_post() -> None:
    """Same fields, types and defaults as ``Post``; each Python validator replaced by its
    effect on canonical input (``_non_empty`` by ``min_length=1``)."""
    fast = members.CanonicalPostMember
    assert fast is not None and fast.model_config.get("strict") is True
    for name, info in fast.model_fields.items():
        assert info.annotation == Post.model_fields[name].annotation
        assert info.default == Post.model_fields[name].default
    assert [getattr(m, "min_length", None) for m in fast.model_fields["id"].metadata] == [1]
    assert [getattr(m, "ge", None) for m in fast.model_fields["timestamp"].metadata] == [0]


class _Stripped(BaseModel):
    """The member fields, with a validator the table does not know (it changes canonical input)."""

    id: Annotated[str, BeforeValidator(str.strip)]
    text: str
    sender_username: str
    timestamp: int
    quoted_tweet_id: str | None = None
    is_reply_to: str | None = None
    is_news_summary_tweet: bool = False


def test_an_unknown_validator_turns_the_fast_path_off() -> None:
    assert members._canonical_model(_Stripped) is None
    assert members._canonical_model(Post) is not None


# --- members.validate: the posts given to add_user_post[s] ---

_python_scalar = st.one_of(
    _json_scalar, st.floats(min_value=0, max_value=2**40), st.integers(-3, 2**40),
    st.text(min_size=1, max_size=4), st.sampled_from([True, False, "", " x ", 0, -1, 2.5]),
)
_post_dict = st.fixed_dictionaries(
    {},
    optional={
        name: _python_scalar
        for name in ("id", "text", "sender_username", "timestamp", "quoted_tweet_id",
                     "is_reply_to", "is_news_summary_tweet", "accounts", "pk")
    },
)


@settings(max_examples=600, deadline=None)
@given(_post_dict, st.booleans())
def test_validate_accepts_what_post_accepts_with_the_same_member(
    fields: dict[str, object], as_post: bool
) -> None:
    """The fast path never lets through what ``Post`` refuses, nor writes another member."""
    try:
        post = translate.to_post(fields)
    except InvalidPostError as exc:
        with pytest.raises(InvalidPostError) as refused:
            members.validate(fields)
        assert str(refused.value) == str(exc)  # the same message, word for word
        return
    valid = members.validate(post if as_post else fields)
    assert post_member(valid.__dict__) == translate.member_of(post)
    assert (valid.id, valid.timestamp) == (post.id, post.timestamp)


def test_validate_rechecks_a_post_changed_since_it_was_built() -> None:
    post = Post(id="1", text="t", sender_username="a", timestamp=1)
    post.timestamp = -5  # no validation on assignment: add_user_post must catch it
    with pytest.raises(InvalidPostError, match="timestamp"):
        members.validate(post)


def test_validate_reads_the_attributes_of_any_object() -> None:
    class Tweet:
        id, text, sender_username, timestamp = 12, "hi", "bob", 1700000000.7

    valid = members.validate(Tweet())
    assert (valid.id, valid.timestamp) == ("12", 1700000000)
