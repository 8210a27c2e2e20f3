"""``ensure_delay_between_posts``'s read, without a server."""

from __future__ import annotations

import time

import pytest
from scripted import run

from redis_client.core.errors import InvalidUsernameError
from redis_client.core.protocol import Call
from redis_client.ops.delay import seconds_to_wait


def test_no_post_yet_means_no_wait() -> None:
    wait, driver = run(seconds_to_wait("alice", 60), [])
    assert wait == 0.0
    assert driver.requests == [Call("zrange", ("posted_tweets:alice", -1, -1), {"withscores": True})]


def test_the_wait_is_what_is_left_of_the_delay_since_the_newest_post() -> None:
    newest = time.time() - 20
    wait, _ = run(seconds_to_wait("alice", 60), [(b"member", newest)])
    assert 39 <= wait <= 40
    assert run(seconds_to_wait("alice", 10), [(b"member", newest)])[0] == 0.0
    assert run(seconds_to_wait("alice", 0), [(b"member", time.time())])[0] == 0.0  # 0 is no delay


def test_the_default_delay_is_five_to_ten_minutes() -> None:
    wait, _ = run(seconds_to_wait("alice", None), [(b"member", time.time())])
    assert 5 * 60 - 1 <= wait <= 10 * 60


def test_a_bad_username_is_refused_before_the_read() -> None:
    with pytest.raises(InvalidUsernameError):
        run(seconds_to_wait("", 60))
