"""The pieces of the follower that need no server: notification flags, the pending keys."""

from __future__ import annotations

import pytest

from redis_client.core import keys
from redis_client.follow import FollowOptions
from redis_client.follow.events import NEEDED_FLAGS, missing_flags, patterns
from redis_client.follow.fingerprint import Fingerprint
from redis_client.follow.pending import COMPARE, Pending, PostKey


@pytest.mark.parametrize(
    ("current", "missing"),
    [("", NEEDED_FLAGS), ("AKE", ""), ("KA", ""), ("Ex", "Kghz$e"), ("g$hzxeK", ""), ("Kz", "gh$xe")],
)
def test_missing_flags(current: str, missing: str):
    assert missing_flags(current) == missing


def test_patterns_cover_the_followed_prefixes_and_nothing_else():
    subscribed = patterns(0)
    assert "__keyspace@0__:posted_tweets:*" in subscribed
    assert "__keyspace@0__:twitter_data:*" in subscribed
    assert all(f"__keyspace@0__:{a}:*" in subscribed for a in keys.ACTION_TYPES)
    assert len(subscribed) == len(keys.FOLLOWED_PREFIXES) + 1  # and the probe key
    assert patterns(3)[0].startswith("__keyspace@3__:")


def test_pending_keeps_appends_apart_and_merges():
    pending = Pending()
    pending.post_key(b"posted_tweets:a", "zadd")
    pending.post_key(b"posted_tweets:a", "zadd")
    pending.post_key(b"posted_tweets:b", "zadd")
    pending.post_key(b"posted_tweets:b", "zrem")  # b must now be compared
    pending.post_keys([b"posted_tweets:c"], COMPARE)
    pending.account("alice")
    assert len(pending) == 4 and not pending.settled()
    batch = pending.take(max_keys=10, max_compared=1)
    assert [e.zkey for e in batch.posts] == [b"posted_tweets:b", b"posted_tweets:a"]
    assert batch.posts[0].events == {"zadd", "zrem"} and batch.posts[1].append_only
    assert list(batch.accounts) == ["alice"]
    pending.put_back([PostKey(b"posted_tweets:a", {COMPARE}, 0.0)])
    rest = pending.take(max_keys=10, max_compared=10)
    assert {e.zkey for e in rest.posts} == {b"posted_tweets:a", b"posted_tweets:c"}
    assert pending.take(10, 10).posts == [] and pending.settled()
    assert pending.wait(0.01) is False


def test_fingerprints_round_trip_and_bad_ones_are_ignored():
    fp = Fingerprint(3, "1700000000.5", 1, "ab" * 20)
    assert Fingerprint.loads(fp.dumps().encode()) == fp
    assert Fingerprint.loads(None) is None and Fingerprint.loads(b"not json") is None


def test_options_are_checked():
    with pytest.raises(ValueError, match="interval"):
        FollowOptions(interval=0)
    with pytest.raises(ValueError, match="batch_keys"):
        FollowOptions(batch_keys=0)
