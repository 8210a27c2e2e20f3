"""``redis_client.ops.posts`` without a server: validation first, the requests, errors at a yield."""

from __future__ import annotations

import json
import logging

import pytest
import redis
from scripted import ScriptedDriver, run

from redis_client.core import keys, scripts
from redis_client.core.errors import InvalidPostError, InvalidUsernameError, WriteConflictError
from redis_client.core.protocol import Call, Models, Pipeline, Script
from redis_client.models.post import Post
from redis_client.ops import posts

POST = {"id": "tw1", "text": "Hé \"x\"", "sender_username": "alice", "timestamp": 1700000000}
MEMBER = json.dumps({**POST, "quoted_tweet_id": None, "is_reply_to": None, "is_news_summary_tweet": False})
RECORD = keys.model_key(keys.POST_PREFIX, "tw1")


def test_one_post_is_one_script_call_after_the_models_check() -> None:
    result, driver = run(posts.add_user_post("alice", POST), 1)
    assert result is None
    assert driver.requests == [
        Models(),
        Script(scripts.ADD_POSTS, ["posted_tweets:alice", RECORD], ['"alice"', "1", 1700000000, MEMBER]),
    ]


def test_without_models_only_the_member_is_written() -> None:
    _, driver = run(posts.add_user_post("alice", Post(**POST)), 1, models=False)
    [call] = driver.sent()
    assert isinstance(call, Script) and list(call.keys) == ["posted_tweets:alice"]


@pytest.mark.parametrize(
    ("username", "post", "error"),
    [
        ("alice", {**POST, "timestamp": -1}, InvalidPostError),
        ("alice", {**POST, "text": None}, InvalidPostError),
        ("alice", {"id": "x"}, InvalidPostError),
        ("", POST, InvalidUsernameError),
        (None, POST, InvalidUsernameError),
    ],
)
def test_bad_input_is_refused_before_any_request(
    username: object, post: object, error: type[Exception]
) -> None:
    driver = ScriptedDriver()
    with pytest.raises(error):
        driver.run(posts.add_user_post(username, post))  # type: ignore[arg-type]
    assert driver.requests == []


def test_a_key_of_another_type_is_a_write_conflict_naming_the_key_and_no_value() -> None:
    error = redis.ResponseError(
        f"Command # 1 (EVALSHA x 2 posted_tweets:alice {MEMBER}) of pipeline caused error: "
        "WRONGTYPE posted_tweets:alice holds a string, not a sorted set"
    )
    with pytest.raises(WriteConflictError) as info:
        run(posts.add_user_post("alice", POST), error)
    assert str(info.value) == "posted_tweets:alice holds a string, not a sorted set: nothing was written"
    assert "Hé" not in str(info.value)  # the server's message only, not the command's arguments


def test_other_script_errors_reach_the_caller_as_they_are() -> None:
    with pytest.raises(redis.ResponseError, match="OOM"):
        run(posts.add_user_post("alice", POST), redis.ResponseError("OOM command not allowed"))


def many(n: int) -> list[dict[str, object]]:
    return [{**POST, "id": f"tw{i}", "timestamp": 1700000000 + i} for i in range(n)]


def test_many_posts_go_in_batches_pipelined_in_one_round_trip() -> None:
    added, driver = run(posts.add_user_posts("alice", many(1200)), [500, 499, 200])
    assert added == 1199
    [models, pipeline] = driver.requests
    assert models == Models() and isinstance(pipeline, Pipeline)
    sizes = [len(call.keys) - 1 for call in pipeline.calls]  # type: ignore[union-attr]
    assert sizes == [500, 500, 200]
    first = pipeline.calls[0]
    assert isinstance(first, Script) and first.keys[1] == keys.model_key(keys.POST_PREFIX, "tw0")
    assert list(first.args[:4]) == ['"alice"', "1", 1700000000, json.dumps(
        {**POST, "id": "tw0", "quoted_tweet_id": None, "is_reply_to": None, "is_news_summary_tweet": False}
    )]


def test_one_bad_post_among_many_writes_nothing() -> None:
    driver = ScriptedDriver()
    with pytest.raises(InvalidPostError):
        driver.run(posts.add_user_posts("alice", [*many(3), {"id": "bad"}]))
    assert driver.requests == []


def test_no_post_is_no_request() -> None:
    assert run(posts.add_user_posts("alice", []))[1].requests == []


def test_a_batch_refused_for_its_key_type_is_a_write_conflict() -> None:
    wrongtype = redis.ResponseError("WRONGTYPE redis_client_om:post:tw3 holds a list, not a JSON record")
    with pytest.raises(WriteConflictError, match="tw3 holds a list"):
        run(posts.add_user_posts("alice", many(3)), [wrongtype])


def test_user_posts_are_parsed_and_a_malformed_member_skipped(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "redis_client"):
        found, driver = run(posts.get_user_posts("alice"), [MEMBER.encode(), b'{"id": "x"}', b"garbage"])
    assert [p.id for p in found] == ["tw1"]
    assert driver.requests == [Call("zrange", ("posted_tweets:alice", 0, -1))]
    assert caplog.text.count("skipped malformed member") == 2 and "garbage" not in caplog.text


def test_posts_by_create_time_read_a_score_range() -> None:
    found, driver = run(posts.get_user_posts_by_create_time("alice", 60), [MEMBER.encode()])
    [call] = driver.requests
    assert isinstance(call, Call) and call.name == "zrangebyscore"
    zkey, low, high = call.args
    assert zkey == "posted_tweets:alice" and high - low == 60 and len(found) == 1
