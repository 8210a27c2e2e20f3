"""Pure unit tests of the key layout (no server): names built byte for byte, patterns escaped."""

from __future__ import annotations

import re

import pytest

from redis_client.core import keys
from redis_client.core.errors import InvalidUsernameError

HOSTILE = [
    "alice",
    "a:b",
    "::",
    "*",
    "a*",
    "?",
    "[x]",
    "]",
    "{tag}",
    "}{",
    "with space",
    " lead",
    "\\",
    "a\\*",
    "é漢字🙂",
    "x|y",
    "-",
]

PER_ACCOUNT = [
    (keys.posted_tweets, "posted_tweets"),
    (keys.twitter_data, "twitter_data"),
    (keys.send_partnership, "send_partnership"),
    (keys.gorilla_marketing_answered, "gorilla_marketing_answered"),
    (keys.user_likes, "user_likes"),
]


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Redis' glob dialect (``*``, ``?``, ``[...]``, backslash escapes) as a regex."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            end = pattern.index("]", i + 1)
            out.append("[" + re.escape(pattern[i + 1 : end]) + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


@pytest.mark.parametrize(("build", "prefix"), PER_ACCOUNT)
@pytest.mark.parametrize("username", HOSTILE)
def test_account_keys_are_prefix_colon_username(build, prefix: str, username: str) -> None:
    assert build(username) == f"{prefix}:{username}"


@pytest.mark.parametrize("username", HOSTILE)
def test_action_time_key(username: str) -> None:
    for action in keys.ACTION_TYPES:
        assert keys.action_time(username, action) == f"{action}:{username}"


@pytest.mark.parametrize("bad", ["", None, 0, b"alice", ["alice"]])
def test_check_username_rejects_empty_and_non_str(bad: object) -> None:
    with pytest.raises(InvalidUsernameError):
        keys.check_username(bad)
    for build, _ in PER_ACCOUNT:
        with pytest.raises(InvalidUsernameError):
            build(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidUsernameError):
        keys.legacy_account_keys(bad)  # type: ignore[arg-type]


def test_empty_username_error_is_clear() -> None:
    with pytest.raises(InvalidUsernameError, match="empty"):
        keys.posted_tweets("")


@pytest.mark.parametrize("action", ["", "a:b", keys.MODEL_NAMESPACE, None])
def test_action_time_rejects_bad_action_types(action: object) -> None:
    with pytest.raises(ValueError):
        keys.action_time("alice", action)  # type: ignore[arg-type]


@pytest.mark.parametrize("username", HOSTILE)
def test_username_from_key_keeps_the_full_name(username: str) -> None:
    for build, prefix in PER_ACCOUNT:
        assert keys.username_from_key(build(username), prefix) == username


def test_username_from_key_rejects_other_prefixes() -> None:
    with pytest.raises(ValueError):
        keys.username_from_key("user_likes:bob", keys.TWITTER_DATA)
    with pytest.raises(ValueError):
        keys.username_from_key("twitter_databob", keys.TWITTER_DATA)


@pytest.mark.parametrize("text", HOSTILE)
def test_escape_glob_matches_only_the_literal_text(text: str) -> None:
    pattern = glob_to_regex(keys.escape_glob(text))
    assert pattern.fullmatch(text)
    for other in HOSTILE:
        if other != text:
            assert not pattern.fullmatch(other), (text, other)
    # Look-alikes a raw pattern would have matched.
    for other in (text + "x", "x" + text, text.replace("*", "zz").replace("?", "q")):
        if other != text:
            assert not pattern.fullmatch(other)


def test_prefix_pattern_matches_every_username_and_nothing_else() -> None:
    pattern = glob_to_regex(keys.prefix_pattern(keys.TWITTER_DATA))
    for username in HOSTILE:
        assert pattern.fullmatch(keys.twitter_data(username))
        assert not pattern.fullmatch(keys.user_likes(username))
    assert not pattern.fullmatch("twitter_data")


def test_legacy_account_keys_cover_every_per_account_key() -> None:
    username = "a:*?"
    found = keys.legacy_account_keys(username)
    expected = {build(username) for build, _ in PER_ACCOUNT}
    expected |= {keys.action_time(username, a) for a in keys.ACTION_TYPES}
    assert set(found) == expected
    assert len(found) == len(expected)
    custom = keys.legacy_account_keys(username, ("my_action",))
    assert keys.action_time(username, "my_action") in custom
    assert keys.action_time(username, keys.ACTION_TYPES[0]) not in custom


def test_model_namespace_never_collides_with_legacy_keys() -> None:
    legacy_prefixes = {p for _, p in PER_ACCOUNT} | set(keys.ACTION_TYPES)
    legacy_prefixes |= {keys.CREATED_TWEET, keys.FUNCTION_VARIABLES}
    assert keys.MODEL_NAMESPACE not in legacy_prefixes
    for name in (
        keys.model_key(keys.POST_PREFIX, "tw1"),
        keys.model_key(keys.ACCOUNT_PREFIX, "alice"),
        keys.model_index(keys.POST_PREFIX),
        keys.migration_state("run"),
        keys.schema_hash_key("idx"),
    ):
        assert name.startswith(keys.MODEL_NAMESPACE + ":")
        assert name.split(":", 1)[0] not in legacy_prefixes


def test_model_key_keeps_the_primary_key_verbatim() -> None:
    for pk in HOSTILE:
        key = keys.model_key(keys.POST_PREFIX, pk)
        assert key == f"{keys.MODEL_NAMESPACE}:{keys.POST_PREFIX}:{pk}"


def test_created_tweet_key() -> None:
    assert keys.created_tweet("create_tweet") == "created_tweet:create_tweet"
