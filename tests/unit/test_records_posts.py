"""Record-only writes (``redis_client.records.posts``) without a server."""

from __future__ import annotations

import json

import redis
from scripted import run

from redis_client.core import keys, scripts
from redis_client.core.protocol import Pipeline, Script
from redis_client.records import members
from redis_client.records.posts import RECORDS_PER_CALL, records_call, write_records


def parsed(*ids: str) -> list[object]:
    raws = [json.dumps({"id": i, "text": "t", "sender_username": "u", "timestamp": 1}).encode() for i in ids]
    return members.parse(raws, on_bad=lambda i, r: None)


def test_a_record_only_call_sends_each_posts_object_and_no_score() -> None:
    [post] = parsed("p1")
    call = records_call("u", [post])
    record = keys.model_key(keys.POST_PREFIX, "p1")
    # the sorted set is not read in record-only mode: its place holds the first record key
    assert call == Script(scripts.ADD_POSTS, [record, record], ['"u"', "0", members.body(post)])
    body = json.loads(members.body(post))
    assert "accounts" not in body and body["id"] == "p1"  # the script adds the account list


def test_one_call_per_account_in_one_round_trip() -> None:
    batch = [
        (b"posted_tweets:a", "a", parsed("1", "2")),
        (b"posted_tweets:b", "b", parsed("3")),
        (b"posted_tweets:c", "c", []),
    ]
    written, driver = run(write_records(batch), [2, 0])
    assert written.created == 2 and written.failed == []
    [pipeline] = driver.requests
    assert isinstance(pipeline, Pipeline) and len(pipeline.calls) == 2  # no call for an empty group


def test_a_big_group_is_split_into_calls_the_script_can_take() -> None:
    ids = [str(i) for i in range(RECORDS_PER_CALL + 5)]
    _, driver = run(write_records([(b"posted_tweets:a", "a", parsed(*ids))]), [RECORDS_PER_CALL, 5])
    [pipeline] = driver.requests
    assert [len(c.keys) - 1 for c in pipeline.calls] == [RECORDS_PER_CALL, 5]  # type: ignore[union-attr]


def test_a_refused_call_is_retried_post_by_post_and_only_the_bad_key_is_left_out() -> None:
    wrongtype = redis.ResponseError(
        "Command # 1 (EVALSHA ...) of pipeline caused error: WRONGTYPE redis_client_om:post:2 holds a set, "
        "not a JSON record"
    )
    single_wrongtype = redis.ResponseError("WRONGTYPE redis_client_om:post:2 holds a set, not a JSON record")
    batch = [(b"posted_tweets:a", "a", parsed("1", "2", "3"))]
    written, driver = run(write_records(batch), [wrongtype], [1, single_wrongtype, 1])
    assert written.created == 2
    [(zkey, post, reason)] = written.failed
    assert zkey == b"posted_tweets:a" and post.id == "2"
    assert reason == f"cannot write the Post record of id '2': {single_wrongtype}"
    assert [len(p.calls) for p in driver.requests] == [1, 3]  # type: ignore[union-attr]
