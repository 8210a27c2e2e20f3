"""The ``ADD_POSTS`` argument layout (no server: the dual-write tests run the script)."""

from __future__ import annotations

import pytest

from redis_client.core import scripts
from redis_client.core.add_posts import add_posts_call


def test_the_dual_write_pairs_each_record_key_with_its_post() -> None:
    posts = [(1, "m1", "d1"), (2, "m2", "d2")]
    call = add_posts_call("posted_tweets:a", '"a"', posts, ["r1", "r2"], zadd=True)
    assert call.script is scripts.ADD_POSTS
    assert list(call.keys) == ["posted_tweets:a", "r1", "r2"]
    assert list(call.args) == ['"a"', "1", 1, "m1", "d1", 2, "m2", "d2"]


def test_the_legacy_only_write_has_no_record_key() -> None:
    call = add_posts_call("posted_tweets:a", '"a"', [(1, "m1", "")], None, zadd=True)
    assert list(call.keys) == ["posted_tweets:a"]
    assert list(call.args) == ['"a"', "1", 1, "m1", ""]


def test_the_record_only_write_never_asks_for_the_zadd() -> None:
    call = add_posts_call("posted_tweets:a", '"a"', [("", "", "d1")], ["r1"], zadd=False)
    assert list(call.args)[:2] == ['"a"', "0"]


@pytest.mark.parametrize("record_keys", [["r1"], ["r1", "r2", "r3"], []])
def test_record_keys_for_some_posts_only_are_refused(record_keys: list[str]) -> None:
    # The script gives the i-th key to the i-th post: one key short and every later post's
    # record would be written under the previous post's key.
    with pytest.raises(ValueError, match="one per post"):
        add_posts_call("posted_tweets:a", '"a"', [(1, "m1", "d1"), (2, "m2", "d2")], record_keys, zadd=True)
