"""Pure unit tests of the JSON encoding of values and of the legacy sorted-set member."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redis_client.core.codec import (
    POST_MEMBER_FIELDS,
    decode_redis,
    decode_value,
    encode_value,
    post_member,
)
from redis_client.core.errors import InvalidValueError, StoredValueError

SECRET = "SECRET-token-8c1f"


def test_member_field_order_is_the_contract_order() -> None:
    assert POST_MEMBER_FIELDS == (
        "id",
        "text",
        "sender_username",
        "timestamp",
        "quoted_tweet_id",
        "is_reply_to",
        "is_news_summary_tweet",
    )


def test_post_member_is_json_dumps_of_the_fields_in_order() -> None:
    fields = {
        "is_news_summary_tweet": True,
        "timestamp": 1700000000,
        "text": 'Hé "quoted" \n 漢',
        "id": "tw1",
        "is_reply_to": None,
        "sender_username": "a:b",
        "quoted_tweet_id": "tw0",
        "extra": "dropped",
    }
    member = post_member(fields)
    assert member == json.dumps({name: fields[name] for name in POST_MEMBER_FIELDS})
    assert list(json.loads(member)) == list(POST_MEMBER_FIELDS)
    # Default separators and ASCII escapes, as json.dumps writes them.
    assert '", "text": ' in member
    assert "\\u6f22" in member


_text = st.text(st.characters(blacklist_categories=()))  # surrogates included: json escapes them
_optional_id = st.none() | _text


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries({
        "id": _text,
        "text": _text,
        "sender_username": _text,
        "timestamp": st.integers(min_value=-(2**70), max_value=2**70),
        "quoted_tweet_id": _optional_id,
        "is_reply_to": _optional_id,
        "is_news_summary_tweet": st.booleans(),
    })
)
def test_the_member_of_validated_fields_is_byte_for_byte_json_dumps(fields: dict[str, object]) -> None:
    # Validated posts take the hand-written path: it must write what json.dumps writes.
    assert post_member(fields) == json.dumps({name: fields[name] for name in POST_MEMBER_FIELDS})


class Tag(str):
    pass


@pytest.mark.parametrize(
    "odd",
    [{"timestamp": 1.5}, {"timestamp": True}, {"id": 7}, {"text": Tag("t")}, {"is_news_summary_tweet": 0}],
)
def test_other_value_types_are_written_by_json_dumps(odd: dict[str, object]) -> None:
    fields = {"id": "1", "text": "t", "sender_username": "a", "timestamp": 1, "quoted_tweet_id": None,
              "is_reply_to": "r", "is_news_summary_tweet": False, **odd}
    assert post_member(fields) == json.dumps({name: fields[name] for name in POST_MEMBER_FIELDS})


def test_post_member_needs_every_field() -> None:
    with pytest.raises(KeyError):
        post_member({"id": "1"})


@pytest.mark.parametrize(
    "value",
    [{"a": [1, 2.5, None, True]}, [], "", "é漢🙂", 0, -1.25, False, {"nested": {"x": "y"}}],
)
def test_encode_decode_round_trip(value: object) -> None:
    text = encode_value("k", value)
    assert text == json.dumps(value)
    assert decode_value("k", text) == value
    assert decode_value("k", text.encode()) == value


@pytest.mark.parametrize(
    "value",
    [
        {"token": {SECRET}},
        object(),
        {"token": SECRET, "f": math.nan},
        [math.inf],
        b"bytes",
        {(1, 2): SECRET},
    ],
)
def test_encode_value_rejects_what_json_cannot_hold(value: object) -> None:
    with pytest.raises(InvalidValueError) as info:
        encode_value("session:42", value)
    message = str(info.value)
    assert "session:42" in message
    assert SECRET not in message
    assert isinstance(info.value, TypeError)  # callers catching TypeError keep working


def test_decode_value_missing_key_gives_default() -> None:
    marker = object()
    assert decode_value("k", None) is None
    assert decode_value("k", None, marker) is marker


@pytest.mark.parametrize("raw", [b"not json " + SECRET.encode(), b"\xff\xfe", "{", b"{'a': 1}"])
def test_decode_value_names_the_key_never_the_value(raw: bytes | str) -> None:
    with pytest.raises(StoredValueError) as info:
        decode_value("twitter_data:bob", raw)
    assert "twitter_data:bob" in str(info.value)
    assert SECRET not in str(info.value)


def test_decode_redis_recurses() -> None:
    src = {
        b"k": [b"a", (b"b", 1), {b"c"}],
        "s": b"\xc3\xa9",
        b"n": None,
        b"i": 3,
    }
    out = decode_redis(src)
    assert out == {"k": ["a", ("b", 1), {"c"}], "s": "é", "n": None, "i": 3}
    assert isinstance(out["k"][1], tuple)
    assert decode_redis("already") == "already"
    assert decode_redis(b"") == ""


@pytest.mark.parametrize("value", [object(), bytearray(b"x"), 1j, [b"ok", object()]])
def test_decode_redis_raises_type_error_for_what_it_does_not_handle(value: object) -> None:
    with pytest.raises(TypeError, match="decode_redis cannot decode"):
        decode_redis(value)
