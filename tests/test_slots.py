"""Hash slots: the project's rule agrees with the server's ``CLUSTER KEYSLOT`` for every username."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from redis_client.core import keys, slots
from redis_client.embedded_cluster import EmbeddedCluster

#: The edge cases a trial found: braces change which part of a key is hashed.
BRACED = ["a}b", "{alice}", "x{}", "{}", "}{", "{a}{b}", "a{b", "{", "}", "{{x}}", "é{漢}"]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis.Redis[bytes]]:
    with EmbeddedCluster(1, 0, data_dir=tmp_path_factory.mktemp("slots")) as cluster:
        client = redis.Redis(cluster.nodes[0].host, cluster.nodes[0].port)
        yield client
        client.close()


def server_slot(node: redis.Redis[bytes], key: str) -> int:
    return int(node.execute_command("CLUSTER", "KEYSLOT", key.encode("utf-8", "surrogatepass")))


def test_every_slot_has_a_tag() -> None:
    assert [slots.slot_of(slots.tag_for_slot(s)) for s in range(slots.SLOTS)] == list(range(slots.SLOTS))


@pytest.mark.parametrize("username", BRACED)
def test_a_key_beside_a_braced_username_shares_its_slot(node: redis.Redis[bytes], username: str) -> None:
    legacy = keys.posted_tweets(username)
    mine = slots.beside(legacy, "redis_client_om:reservation:", username)
    assert slots.slot_of(legacy) == server_slot(node, legacy)
    assert server_slot(node, mine) == server_slot(node, legacy)


@settings(max_examples=300, deadline=None)
@given(username=st.text(min_size=1, max_size=20).filter(lambda s: "\x00" not in s))
def test_the_rule_holds_for_any_username(node: redis.Redis[bytes], username: str) -> None:
    legacy = keys.posted_tweets(username)
    assert slots.slot_of(legacy) == server_slot(node, legacy)
    beside = slots.beside(legacy, "redis_client_om:call:", "token")
    assert server_slot(node, beside) == server_slot(node, legacy)


def test_a_prefix_with_a_brace_is_refused() -> None:
    with pytest.raises(ValueError):
        slots.beside("posted_tweets:a", "redis_client_om:{x}:", "a")
