"""Bad and hostile input, fuzzed with hypothesis against the session's embedded Redis.

Usernames (any unicode, glob and tag characters, blanks), post fields (control characters, huge
text, wrong types), TAG and full-text query values, JSON values and raw stored bytes. Checked:
no crash, invalid data rejected with a clear error and nothing written, no key of another
account touched, and model queries returning exactly the matching records.

Query values: RediSearch trims ASCII blanks (space, \\t, \\n, \\v, \\f, \\r) around TAG values
when indexing, and no query can express a control character. The rule these tests hold the
models to: equality on a TAG field is exact, whatever the value (Unicode, punctuation, query
syntax, ``_``), so a query for ``"bob"`` never returns a ``"bob "``. A value RediSearch cannot
match exactly - blank, with ASCII blanks around it (indexed as ``"bob"``), or holding a control
character (U+0000-U+001F, U+007F) - may instead be refused with ``ValueError``. A wrong result
or a server syntax error is never acceptable.
"""

from __future__ import annotations

import json
import math
import string
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from redis_client.core import keys
from redis_client.core.codec import POST_MEMBER_FIELDS
from redis_client.core.errors import (
    InvalidPostError,
    InvalidUsernameError,
    InvalidValueError,
    StoredValueError,
)
from redis_client.core.settings import RedisSettings
from redis_client.db import RedisDB
from redis_client.models import Post

FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
T0 = 1_700_000_000
ASCII_BLANKS = " \t\n\v\f\r"
SPECIALS = ":*?[]{}|@\\\"'()-~$%^&!<>=,.;/#+` \t_"


@pytest.fixture
def raw(redis_db: RedisDB, redis_settings: RedisSettings) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_settings.url or "")
    yield client
    client.close()


def clean(client: redis.Redis) -> None:
    """Delete every key but the index schema hashes (the indexes themselves stay)."""
    doomed = [k for k in client.scan_iter(count=1000) if not k.startswith(b"redis_client_om:schema:")]
    if doomed:
        client.delete(*doomed)


def snapshot(client: redis.Redis) -> dict[bytes, tuple[str, Any]]:
    out: dict[bytes, tuple[str, Any]] = {}
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        value: Any = None
        if kind == "string":
            value = client.get(key)
        elif kind == "hash":
            value = client.hgetall(key)
        elif kind == "set":
            value = client.smembers(key)
        elif kind == "zset":
            value = client.zrange(key, 0, -1, withscores=True)
        elif kind == "list":
            value = client.lrange(key, 0, -1)
        elif kind == "ReJSON-RL":
            value = client.execute_command("JSON.GET", key)
        out[key] = (kind, value)
    return out


def post(pid: str, username: str, ts: int = T0, text: str = "text") -> dict[str, Any]:
    return {"id": pid, "text": text, "sender_username": username, "timestamp": ts}


def unqueryable(value: str) -> bool:
    """Values the models may refuse to query for (see the module docstring)."""
    trimmed = value.strip(ASCII_BLANKS)
    return not trimmed or trimmed != value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)


hostile_text = st.one_of(
    st.text(min_size=1, max_size=16),
    st.text(alphabet=SPECIALS + "ab", min_size=1, max_size=8),
    st.builds(
        lambda a, b, c: a + b + c,
        st.sampled_from(["", " ", "*", "\\", "{", "\u00a0", "é", "🙂"]),
        st.text(alphabet=string.ascii_letters + "_:", min_size=1, max_size=6),
        st.sampled_from(["", " ", "*", "?", "}", "\t", "\u2003", "漢"]),
    ),
)
#: Usernames without control characters (those: test_username_with_control_characters_...).
hostile_username = hostile_text.filter(
    lambda v: not any(ord(c) < 0x20 or ord(c) == 0x7F for c in v.strip(ASCII_BLANKS))
)


# -- usernames -----------------------------------------------------------------------------------


def neighbours_of(username: str) -> list[str]:
    """Accounts whose keys a sloppy pattern or tag query for ``username`` would also hit."""
    near = {username + "x", "x" + username, username + "*", username + ":", username.upper(),
            username.lower(), username[:-1], username.strip(), f" {username} ", "*", "?", "[a]"}
    return sorted(n for n in near if n and n != username)


@FUZZ
@given(username=hostile_username)
@example(username="*")
@example(username="a:b")
@example(username="[x]")
@example(username=" spaced ")
@example(username="\\")
@example(username="x😀y")
def test_any_username_works_and_touches_only_its_own_keys(
    redis_db: RedisDB, raw: redis.Redis, username: str
) -> None:
    clean(raw)
    db = redis_db
    for n in neighbours_of(username):
        db.add_user_post(n, post(f"own-{n}", n))
        db.add_user_post(n, post("shared", n))
        raw.hset(keys.twitter_data(n), mapping={"name": n, "access_token": "tok"})
        db.update_account_last_action_time(n, "last_likes_time", 1.0)
        db.add_send_partnership(n, "partner")
        raw.sadd(keys.user_likes(n), "t")
    before = snapshot(raw)

    db.add_user_post(username, post("mine", username, T0 + 1))
    db.add_user_post(username, post("shared", username))
    assert [p.id for p in db.get_user_posts(username)] == ["shared", "mine"]
    assert sorted(Post.get("shared").accounts) == sorted([*neighbours_of(username), username])
    assert not db.is_account_active(username)
    raw.hset(keys.twitter_data(username), mapping={"name": "N", "access_token": "tok"})
    assert db.is_account_active(username)
    assert username in db.get_active_twitter_accounts()
    db.update_account_last_action_time(username, "last_likes_time", 7.5)
    assert db.get_account_last_action_time(username, "last_likes_time") == 7.5
    db.add_send_partnership(username, "p2")
    assert db.get_send_partnership(username) == ["p2"]
    raw.sadd(keys.gorilla_marketing_answered(username), "t")

    db.remove_account(username)
    assert snapshot(raw) == before, "exactly the account's own keys and records are gone"


@pytest.mark.parametrize("bad", ["", None, 0, b"alice", 1.5, ["alice"]])
def test_empty_or_non_text_username_is_a_clear_error_and_writes_nothing(
    redis_db: RedisDB, raw: redis.Redis, bad: Any
) -> None:
    db = redis_db
    db.add_user_post("alice", post("a1", "alice"))
    before = snapshot(raw)
    calls = [
        lambda: db.add_user_post(bad, post("x1", "alice")),
        lambda: db.add_user_posts(bad, [post("x2", "alice")]),
        lambda: db.get_user_posts(bad),
        lambda: db.get_user_posts_by_create_time(bad),
        lambda: db.is_account_active(bad),
        lambda: db.update_account_last_action_time(bad, "last_likes_time", 1.0),
        lambda: db.get_account_last_action_time(bad, "last_likes_time"),
        lambda: db.add_send_partnership(bad, "p"),
        lambda: db.get_send_partnership(bad),
        lambda: db.remove_account(bad),
    ]
    for call in calls:
        with pytest.raises(InvalidUsernameError, match="username"):
            call()
    assert snapshot(raw) == before


# -- post fields ---------------------------------------------------------------------------------

valid_posts = st.fixed_dictionaries(
    {
        "id": st.one_of(st.text(min_size=1, max_size=20), st.integers(0, 2**63)),
        "text": st.text(max_size=200),
        "sender_username": st.text(min_size=1, max_size=16),
        "timestamp": st.one_of(
            st.integers(0, 2**40), st.floats(0, 2**40, allow_nan=False, allow_infinity=False)
        ),
    },
    optional={
        "quoted_tweet_id": st.one_of(st.none(), st.text(min_size=1, max_size=8)),
        "is_reply_to": st.one_of(st.none(), st.integers(0, 2**40)),
        "is_news_summary_tweet": st.booleans(),
        "unknown_extra_field": st.text(max_size=5),
    },
)


@FUZZ
@given(fields=valid_posts, username=hostile_text)
@example(
    fields={"id": "c", "text": "\x00\x01\x1b[31m\u202e\ud7ff\n\r\t", "sender_username": "\x7f",
            "timestamp": 0},
    username="u",
)
def test_valid_posts_round_trip_exactly_in_both_layouts(
    redis_db: RedisDB, raw: redis.Redis, fields: dict[str, Any], username: str
) -> None:
    clean(raw)
    expected = Post.model_validate(fields)
    assert expected.timestamp == math.floor(fields["timestamp"])
    redis_db.add_user_post(username, fields)
    redis_db.add_user_post(username, fields)  # again: nothing changes
    [(member, score)] = raw.zrange(keys.posted_tweets(username), 0, -1, withscores=True)
    assert member.decode() == json.dumps({f: getattr(expected, f) for f in POST_MEMBER_FIELDS})
    assert score == expected.timestamp
    assert redis_db.get_user_posts(username) == [expected]
    record = Post.get(expected.id)
    assert record.model_dump(exclude={"accounts"}) == expected.model_dump(exclude={"accounts"})
    assert record.accounts == [username]


invalid_field = st.one_of(
    st.tuples(st.just("id"), st.sampled_from(["", None, True, [], {}, 1.5, b"x"])),
    st.tuples(st.just("text"), st.sampled_from([None, 1, [], {}, b"x"])),
    st.tuples(st.just("sender_username"), st.sampled_from(["", None, 5, [], b"x"])),
    st.tuples(
        st.just("timestamp"),
        st.sampled_from(["abc", "", -1, -0.5, math.nan, math.inf, -math.inf, True, None, [], {}]),
    ),
    st.tuples(st.just("is_news_summary_tweet"), st.sampled_from(["maybe", [], None, 2, {}])),
    st.tuples(st.just("quoted_tweet_id"), st.sampled_from([[], {}, True, 1.5])),
)
SECRET_TEXT = "secret-text-Xq9-not-in-errors"


@FUZZ
@given(
    bad=invalid_field,
    missing=st.sampled_from([None, "id", "text", "sender_username", "timestamp"]),
    batch=st.booleans(),
)
def test_invalid_posts_are_rejected_and_nothing_is_written(
    redis_db: RedisDB, raw: redis.Redis, bad: tuple[str, Any], missing: str | None, batch: bool
) -> None:
    clean(raw)
    redis_db.add_user_post("alice", post("kept", "alice"))
    before = snapshot(raw)
    fields = {**post("bad-1", "alice", text=SECRET_TEXT), bad[0]: bad[1]}
    if missing is not None:
        fields.pop(missing, None)
    with pytest.raises(InvalidPostError) as info:
        if batch:  # valid posts around it: still nothing written, all are validated first
            redis_db.add_user_posts("alice", [post("ok-1", "alice"), fields, post("ok-2", "alice")])
        else:
            redis_db.add_user_post("alice", fields)
    assert snapshot(raw) == before
    assert SECRET_TEXT not in str(info.value)


@pytest.mark.parametrize("thing", [5, "a string", None, b"bytes", ["list"], object(),
                                   SimpleNamespace(id="1", text="no sender")])
def test_post_of_the_wrong_type_is_rejected(
    redis_db: RedisDB, raw: redis.Redis, thing: Any
) -> None:
    with pytest.raises(InvalidPostError):
        redis_db.add_user_post("alice", thing)
    assert not raw.exists(keys.posted_tweets("alice"))


def test_huge_text_with_control_characters(redis_db: RedisDB, raw: redis.Redis) -> None:
    text = ("needle " + "\x00\x07\x1b[0m\u0085\u2028é漢🙂 " * 8 + "\n") * 6000  # ~1.1 MB
    big = post("huge", "alice", text=text)
    redis_db.add_user_post("alice", big)
    assert redis_db.get_user_posts("alice")[0].text == text
    assert Post.get("huge").text == text
    assert [p.id for p in Post.find(Post.text % "needle").all()] == ["huge"]


# -- query values --------------------------------------------------------------------------------


def variants(value: str) -> set[str]:
    return {value, f" {value}", f"{value} ", f"\t{value}", value.upper(), value + "*",
            f"{value}\u00a0{value}", value[:1]}


def has_edge_blanks(value: str) -> bool:
    return value.strip(ASCII_BLANKS) != value


def tag_query_check(
    raw: redis.Redis, redis_db: RedisDB, values: list[str], edge_blanks: bool
) -> None:
    """Posts from every variant of ``values``; each variant's query finds exactly its posts."""
    clean(raw)
    corpus: dict[str, str] = {}
    senders = {v for value in values for v in variants(value) | {value}}
    senders = {v for v in senders if v}
    if not edge_blanks:  # edge blanks have their own test
        senders = {v for v in senders if v.strip() == v}
    for n, sender in enumerate(sorted(senders)):
        pid = f"q{n}"
        redis_db.add_user_post("q", post(pid, sender))
        corpus[pid] = sender
    for value in sorted(senders):
        try:
            found = {p.id for p in Post.find(Post.sender_username == value).all()}
        except ValueError:
            assert unqueryable(value), f"refused {value!r}, which is queryable"
            continue
        expected = {pid for pid, sender in corpus.items() if sender == value}
        assert found == expected, f"query {value!r}: got {sorted(corpus[p] for p in found)!r}"


printable_tag = st.text(
    st.characters(blacklist_categories=["Cc", "Cs"]), min_size=1, max_size=10
).filter(lambda v: v.strip() == v and v != "")


@FUZZ
@given(values=st.lists(printable_tag, min_size=1, max_size=4, unique=True))
@example(values=["bob", "a b", "x😀y", "é", "(a|b)", "@sender_username:{x}", "-neg", "\\"])
@example(values=["a\u00a0b", "a\u2003b", "漢字", "*", "a*"])
def test_tag_equality_is_exact_for_values_without_edge_blanks(
    redis_db: RedisDB, raw: redis.Redis, values: list[str]
) -> None:
    """No blanks around, no control characters: the value is found exactly, never refused."""
    tag_query_check(raw, redis_db, [v for v in values if not unqueryable(v)], edge_blanks=False)


@FUZZ
@given(value=st.sampled_from(["bob", "a b", "x😀y"]))
def test_tag_values_with_edge_blanks_are_exact_or_refused(
    redis_db: RedisDB, raw: redis.Redis, value: str
) -> None:
    tag_query_check(raw, redis_db, [value, f" {value} ", f"{value}\n"], edge_blanks=True)


def test_lone_underscore_is_an_ordinary_value(redis_db: RedisDB, raw: redis.Redis) -> None:
    redis_db.add_user_post("_", post("u", "_"))
    assert [p.id for p in Post.find(Post.sender_username == "_").all()] == ["u"]
    redis_db.remove_account("_")
    assert not raw.exists(keys.posted_tweets("_"))


@pytest.mark.parametrize("value", ["\x00", "a\x01b", "a\x02b", "a\x1fb", "\x7f", "*\u00a0",
                                   "\u2003a"])
def test_control_characters_and_unicode_blanks_in_tag_values(
    redis_db: RedisDB, raw: redis.Redis, value: str
) -> None:
    check_any_tag_value(raw, redis_db, value)


@pytest.mark.parametrize("username", ["\x00", "a\x01b", "a\x1fb"])
def test_username_with_control_characters_can_be_removed(
    redis_db: RedisDB, raw: redis.Redis, username: str
) -> None:
    redis_db.add_user_post(username, post("c1", username))
    redis_db.remove_account(username)
    assert not raw.exists(keys.posted_tweets(username))
    assert not raw.exists(keys.model_key(keys.POST_PREFIX, "c1"))


@FUZZ
@given(value=st.text(min_size=1, max_size=8))
def test_any_tag_value_gives_exact_results_or_a_clear_refusal(
    redis_db: RedisDB, raw: redis.Redis, value: str
) -> None:
    """Any value: exact results, or ValueError for an unqueryable one."""
    check_any_tag_value(raw, redis_db, value)


def check_any_tag_value(raw: redis.Redis, redis_db: RedisDB, value: str) -> None:
    clean(raw)
    redis_db.add_user_post("q", post("same", value))
    redis_db.add_user_post("q", post("other", value + "x"))
    try:
        found = {p.id for p in Post.find(Post.sender_username == value).all()}
    except ValueError:
        assert unqueryable(value), f"refused {value!r}, which is queryable"
        return
    assert found == {"same"}


VOCABULARY = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
noise = st.text(alphabet=SPECIALS + "\u00a0\u2003·—🙂", max_size=3)


@FUZZ
@given(
    texts=st.lists(st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=4), min_size=1,
                   max_size=6),
    query=st.lists(st.tuples(st.sampled_from(VOCABULARY), noise), min_size=1, max_size=3),
    lead=noise,
)
def test_full_text_query_is_not_changed_by_the_characters_around_the_words(
    redis_db: RedisDB, raw: redis.Redis, texts: list[list[str]],
    query: list[tuple[str, str]], lead: str
) -> None:
    """``Post.text % v`` finds the posts holding every word of ``v``; punctuation, operators and
    unicode noise in ``v`` are not query syntax."""
    clean(raw)
    for n, words in enumerate(texts):
        redis_db.add_user_post("ft", post(f"t{n}", "ft", text=" ".join(words)))
    value = lead + "".join(f"{w}{sep or ' '}" for w, sep in query)
    wanted = {w for w, _ in query}
    expected = {f"t{n}" for n, words in enumerate(texts) if wanted <= set(words)}
    assert {p.id for p in Post.find(Post.text % value).all()} == expected


@FUZZ
@given(value=st.text(max_size=20))
@example(value='" | @text:*')
@example(value="a")  # a stop word alone: not indexed, and a syntax error if sent
@example(value="the A")
@example(value="_")
@example(value="%%")
@example(value="\\")
def test_any_full_text_value_never_crashes(
    redis_db: RedisDB, raw: redis.Redis, value: str
) -> None:
    redis_db.add_user_post("ft", post("p", "ft", text="some words here"))
    for query in (Post.text % value, Post.text == value):
        try:
            results = Post.find(query).all()
        except ValueError:
            continue  # a clear refusal is fine; a server syntax error is not
        assert {p.id for p in results} <= {"p"}


# -- JSON values and raw stored data -------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=10,
)


@FUZZ
@given(key=st.text(min_size=1, max_size=20), value=json_values)
def test_json_values_round_trip_and_touch_only_their_key(
    redis_db: RedisDB, raw: redis.Redis, key: str, value: Any
) -> None:
    clean(raw)
    raw.set("fuzz-neighbour", "1")
    raw.set(f"{key}x", "2")
    full = f"fuzz:{key}"
    before = snapshot(raw)
    redis_db.set(full, value)
    if value is None:  # None deletes
        assert redis_db.get(full) is None and not raw.exists(full)
    else:
        assert redis_db.get(full) == value
        assert redis_db[full] == value
    after = snapshot(raw)
    after.pop(full.encode(), None)
    assert after == before
    redis_db.delete(full)
    assert not raw.exists(full)


@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, {1, 2}, b"bytes", object(), {"k": math.nan}, [1, {2}], {(1, 2): "x"},
     SimpleNamespace(a=1)],
    ids=repr,
)
def test_values_json_cannot_hold_are_rejected_and_nothing_is_written(
    redis_db: RedisDB, raw: redis.Redis, value: Any
) -> None:
    raw.set("fuzz:k", json.dumps("old"))
    with pytest.raises(InvalidValueError, match="fuzz:k"):
        redis_db.set("fuzz:k", value)
    with pytest.raises(InvalidValueError):
        redis_db.setex("fuzz:k", value, 10)
    assert redis_db.get("fuzz:k") == "old"


@FUZZ
@given(stored=st.binary(max_size=40))
@example(stored=b"\xff\xfe")
@example(stored=b"NaN")
@example(stored=b"")
def test_any_stored_bytes_read_as_json_or_a_clear_error(
    redis_db: RedisDB, raw: redis.Redis, stored: bytes
) -> None:
    raw.set("fuzz:raw", stored)
    try:
        expected: Any = json.loads(stored)
    except ValueError:
        if not stored:
            assert redis_db.get("fuzz:raw", default="d") == "d"
            return
        with pytest.raises(StoredValueError, match="fuzz:raw"):
            redis_db.get("fuzz:raw")
        return
    assert json.dumps(redis_db.get("fuzz:raw")) == json.dumps(expected)  # NaN != NaN


@FUZZ
@given(members=st.lists(st.one_of(st.binary(max_size=30), json_values.map(json.dumps)),
                        max_size=6))
def test_malformed_sorted_set_members_are_skipped_never_fatal(
    redis_db: RedisDB, raw: redis.Redis, members: list[bytes | str]
) -> None:
    clean(raw)
    zkey = keys.posted_tweets("legacy")
    good = json.dumps({**post("good", "legacy"), "quoted_tweet_id": None, "is_reply_to": None,
                       "is_news_summary_tweet": False})
    raw.zadd(zkey, {good: T0})
    for n, member in enumerate(members):
        raw.zadd(zkey, {member: T0 + 1 + n})
    posts = redis_db.get_user_posts("legacy")
    assert "good" in [p.id for p in posts]
    assert all(isinstance(p, Post) for p in posts)
