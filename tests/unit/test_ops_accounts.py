"""``redis_client.ops.accounts`` without a server: validation before I/O, requests, error mapping."""

from __future__ import annotations

import json
import math

import pytest
import redis
from scripted import ScriptedDriver, run

from redis_client.core import keys, scripts
from redis_client.core.errors import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    InvalidUsernameError,
    ReplicationTimeoutError,
    StoredValueError,
)
from redis_client.core.protocol import Call, Models, Script
from redis_client.core.settings import load_settings
from redis_client.ops import accounts

RECORD = keys.model_key(keys.ACCOUNT_PREFIX, "alice")


def test_account_keys_and_names() -> None:
    names, _ = run(accounts.get_twitter_data_keys(), (0, [b"twitter_data:a:b", b"twitter_data:c"]))
    assert names == ["twitter_data:a:b", "twitter_data:c"]
    users, driver = run(accounts.get_active_twitter_accounts(), (0, [b"twitter_data:a:b"]))
    assert users == ["a:b"]  # the full name, ':' included
    assert driver.requests[0] == Call("scan", (0,), {"match": "twitter_data:*", "count": 1000, "_type": None})
    active, driver = run(accounts.is_account_active("alice"), 0)
    assert active is False and driver.requests == [Call("exists", ("twitter_data:alice",))]


def test_last_action_time_is_zero_when_unset() -> None:
    assert run(accounts.get_account_last_action_time("alice", "last_likes_time"), None)[0] == 0.0
    value, driver = run(accounts.get_account_last_action_time("alice", "last_likes_time"), b"12.5")
    assert value == 12.5 and driver.requests == [Call("get", ("last_likes_time:alice",))]
    with pytest.raises(StoredValueError):
        run(accounts.get_account_last_action_time("alice", "last_likes_time"), b"soon")


@pytest.mark.parametrize(
    ("username", "action", "timestamp", "error"),
    [
        ("alice", "last_likes_time", "1", InvalidArgumentTypeError),
        ("alice", "last_likes_time", True, InvalidArgumentTypeError),
        ("alice", "last_likes_time", math.inf, InvalidArgumentError),
        ("alice", "a:b", 1.0, InvalidArgumentError),
        ("alice", "redis_client_om", 1.0, InvalidArgumentError),
        ("", "last_likes_time", 1.0, InvalidUsernameError),
    ],
)
def test_update_action_time_validates_before_any_request(
    username: str, action: str, timestamp: object, error: type[Exception]
) -> None:
    driver = ScriptedDriver()
    with pytest.raises(error):
        driver.run(accounts.update_account_last_action_time(username, action, timestamp))  # type: ignore[arg-type]
    assert driver.requests == []


def test_update_action_time_writes_key_and_record_in_one_script() -> None:
    _, driver = run(accounts.update_account_last_action_time("alice", "last_likes_time", 12.5), 1)
    assert driver.requests == [
        Models(),
        Script(
            scripts.SET_ACTION_TIME, ["last_likes_time:alice", RECORD], ["12.5", '{"last_likes_time": 12.5}']
        ),
    ]
    _, driver = run(accounts.update_account_last_action_time("alice", "last_custom", 3), 0)
    assert driver.sent() == [
        Script(
            scripts.SET_ACTION_TIME,
            ["last_custom:alice", RECORD],
            ["3", '{"other_action_times": {"last_custom": 3}}'],
        )
    ]


def test_update_action_time_without_models_sets_the_legacy_key_only() -> None:
    op = accounts.update_account_last_action_time("alice", "last_likes_time", 1)
    _, driver = run(op, True, models=False)
    assert driver.sent() == [Call("set", ("last_likes_time:alice", "1"))]


def test_partnerships() -> None:
    _, driver = run(accounts.add_send_partnership("alice", "42"), 1)
    [request] = driver.requests
    assert isinstance(request, Call) and request.name == "zadd"
    assert request.args[0] == "send_partnership:alice" and list(request.args[1]) == ["42"]
    assert run(accounts.get_send_partnership("alice"), [b"42", b"43"])[0] == ["42", "43"]


def test_the_prompt_map_is_stored_as_given_and_returned_as_a_copy() -> None:
    mapping = {"create_tweet": ["my_tweets"]}
    result, driver = run(accounts.get_function_variables(mapping), True)
    assert result == mapping and result is not mapping
    assert result["create_tweet"] is not mapping["create_tweet"]
    assert driver.requests == [Call("set", ("function_variables", '{"create_tweet": ["my_tweets"]}'))]


@pytest.mark.parametrize(
    "error",
    [redis.ReadOnlyError("READONLY You can't write against a read only replica."),
     ReplicationTimeoutError("0 of 1 replicas in time")],
)
def test_the_first_commands_store_never_fails_what_follows(error: Exception) -> None:
    mapping = {"create_tweet": ["my_tweets"]}
    result, driver = run(accounts.store_function_variables(mapping, first_command=True), error)
    assert result == mapping and len(driver.requests) == 1
    with pytest.raises(type(error)):  # asked for by the caller: the error is theirs
        run(accounts.store_function_variables(mapping), error)


def test_each_save_tweet_link_call_has_its_own_retry_token() -> None:
    _, first = run(accounts.save_tweet_link("create_tweet", "99", 120), 1)
    _, second = run(accounts.save_tweet_link("create_tweet", "99", 120), 2)
    tokens = []
    for driver in (first, second):
        [request] = driver.requests
        assert isinstance(request, Script) and request.script is scripts.SAVE_LINK
        key, token = request.keys
        assert key == "created_tweet:create_tweet" and token.startswith("redis_client_om:call:")
        assert list(request.args) == ["https://twitter.com/i/web/status/99", 120]
        tokens.append(token)
    assert tokens[0] != tokens[1]  # a retry of one call re-sends its token; a new call appends again


def test_the_link_token_outlives_every_retry_of_its_call() -> None:
    settings = load_settings(retries=3, socket_timeout=5, socket_connect_timeout=2, retry_backoff_cap=1)
    worst_case = (settings.retries + 1) * (5 + 2 + 1)
    assert accounts.link_token_ttl(settings) >= 2 * worst_case
    assert accounts.link_token_ttl(load_settings(retries=0, socket_timeout=0.1)) == 60


LEGACY = keys.legacy_account_keys("alice", tuple(sorted(keys.ACTION_TYPES)))


def test_remove_account_without_models_deletes_the_legacy_keys_and_record_key() -> None:
    deleted, driver = run(accounts.remove_account("alice"), 3, models=False)
    assert deleted == 3
    assert driver.requests == [
        Models(),
        Script(scripts.REMOVE_ACCOUNT, [*LEGACY, RECORD], ['"alice"', len(LEGACY) + 1]),
    ]


def test_remove_account_finds_the_records_of_its_posts_and_its_other_action_times() -> None:
    members = [json.dumps({"id": "p1"}).encode(), b"not json", json.dumps({"id": 7}).encode()]
    search = [1, "redis_client_om:post:p9", ["$", json.dumps(
        {"id": "p9", "text": "t", "sender_username": "bob", "timestamp": 1, "accounts": ["alice", "bob"]}
    )]]
    deleted, driver = run(
        accounts.remove_account("alice"),
        b'[{"last_custom": 5, "a:b": 1}]',  # JSON.GET $.other_action_times
        members,  # ZRANGE of the account's posts
        search,  # FT.SEARCH @accounts:{alice}
        9,  # REMOVE_ACCOUNT
    )
    assert deleted == 9
    calls = driver.sent()
    assert calls[0] == Call("execute_command", ("JSON.GET", RECORD, "$.other_action_times"))
    assert calls[1] == Call("zrange", ("posted_tweets:alice", 0, -1))
    assert isinstance(calls[2], Call)
    assert calls[2].args[:3] == ("FT.SEARCH", "redis_client_om:post:index", "@accounts:{alice}")
    plain = keys.legacy_account_keys("alice", tuple(sorted({*keys.ACTION_TYPES, "last_custom"})))
    posts = [keys.model_key(keys.POST_PREFIX, i) for i in ("7", "p1", "p9")]
    assert calls[3] == Script(scripts.REMOVE_ACCOUNT, [*plain, RECORD, *posts], ['"alice"', len(plain) + 1])


def test_remove_account_of_a_record_key_of_another_type_still_removes_the_account() -> None:
    error = redis.ResponseError("Existing key has wrong Redis type")  # raised at the JSON.GET yield
    deleted, driver = run(accounts.remove_account("alice"), error, [], [0], 2)
    assert deleted == 2
    [script] = [r for r in driver.sent() if isinstance(r, Script)]
    assert list(script.keys) == [*LEGACY, RECORD]


def test_remove_account_validates_the_username_first() -> None:
    driver = ScriptedDriver()
    with pytest.raises(InvalidUsernameError):
        driver.run(accounts.remove_account(""))
    assert driver.requests == []
