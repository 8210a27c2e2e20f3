"""The ``ADD_POSTS`` argument layout (no server: the dual-write tests run the script)."""

from __future__ import annotations

import pytest

from redis_client.core import scripts
from redis_client.core.add_posts import MAX_POSTS, add_posts_call


def test_the_dual_write_pairs_each_record_key_with_its_post() -> None:
    call = add_posts_call("posted_tweets:a", "a", ['{"m": 1}', '{"m": 2}'], [1, 2], ["r1", "r2"])
    assert call.script is scripts.ADD_POSTS
    assert list(call.keys) == ["posted_tweets:a", "r1", "r2"]
    assert list(call.args) == ['"a"', "1", 1, '{"m": 1}', 2, '{"m": 2}']


def test_the_members_only_write_has_no_record_key() -> None:
    call = add_posts_call("posted_tweets:a", "a:b é", ['{"m": 1}'], [1], None)
    assert list(call.keys) == ["posted_tweets:a"]
    assert list(call.args) == ['"a:b \\u00e9"', "1", 1, '{"m": 1}']  # the username as JSON


def test_the_record_only_write_sends_no_score() -> None:
    call = add_posts_call("posted_tweets:a", "a", ['{"id":"1"}'], None, ["r1"])
    assert list(call.keys) == ["posted_tweets:a", "r1"]
    assert list(call.args) == ['"a"', "0", '{"id":"1"}']


@pytest.mark.parametrize("record_keys", [["r1"], ["r1", "r2", "r3"], []])
def test_record_keys_for_some_posts_only_are_refused(record_keys: list[str]) -> None:
    # The script gives the i-th key to the i-th post: one key short and every later post's
    # record would be written under the previous post's key.
    with pytest.raises(ValueError, match="one per post"):
        add_posts_call("posted_tweets:a", "a", ["{}", "{}"], [1, 2], record_keys)


def test_scores_for_some_posts_only_are_refused() -> None:
    with pytest.raises(ValueError, match="one per post"):
        add_posts_call("posted_tweets:a", "a", ["{}", "{}"], [1], None)


def test_a_call_that_writes_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="neither"):
        add_posts_call("posted_tweets:a", "a", ["{}"], None, None)


def test_a_call_too_big_for_the_scripts_stack_is_refused() -> None:
    texts = ["{}"] * (MAX_POSTS + 1)
    with pytest.raises(ValueError, match="at most"):
        add_posts_call("posted_tweets:a", "a", texts, None, [f"r{i}" for i in range(len(texts))])
