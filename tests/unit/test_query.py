"""Model queries as operations, without a server: the search, its retry when the index vanished."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis
from scripted import ScriptedDriver, run

from redis_client.core.errors import ModuleMissingError, QueryValueError
from redis_client.core.protocol import Call, ForgetIndexes, Models
from redis_client.core.settings import load_settings
from redis_client.models import Post, binding


def doc(i: int) -> str:
    fields = {"id": f"p{i}", "text": "t", "sender_username": "alice", "timestamp": i, "accounts": ["alice"]}
    return json.dumps(fields)


def reply(*ids: int, total: int | None = None) -> list[object]:
    out: list[object] = [len(ids) if total is None else total]
    for i in ids:
        out += [f"redis_client_om:post:p{i}", ["$", doc(i)]]
    return out


QUERY = Post.find(Post.sender_username == "alice").sort_by("-timestamp")


def test_a_page_is_one_search_after_the_models_check() -> None:
    posts, driver = run(QUERY._page_op(0, 2), reply(9, 8, total=5))
    assert [p.id for p in posts] == ["p9", "p8"]
    search = Call(
        "execute_command",
        ("FT.SEARCH", "redis_client_om:post:index", "@sender_username:{alice}", "LIMIT", 0, 2,
         "SORTBY", "timestamp", "desc"),
        text=True,
    )
    assert driver.requests == [Models(require=True), search]


def test_a_vanished_index_is_made_again_and_the_search_runs_once_more() -> None:
    gone = redis.ResponseError("redis_client_om:post:index: no such index")
    posts, driver = run(QUERY._page_op(0, 1), gone, reply(3))
    assert [p.id for p in posts] == ["p3"]
    kinds = [type(r).__name__ for r in driver.requests]
    assert kinds == ["Models", "Call", "ForgetIndexes", "Models", "Call"]
    assert driver.requests[2] == ForgetIndexes()


def test_other_search_errors_reach_the_caller() -> None:
    with pytest.raises(redis.ResponseError, match="Syntax error"):
        run(QUERY._page_op(0, 1), redis.ResponseError("Syntax error at offset 3"))


def test_without_the_modules_nothing_is_searched() -> None:
    driver = ScriptedDriver(models=ModuleMissingError("no search module"))
    with pytest.raises(ModuleMissingError):
        driver.run(QUERY._page_op(0, 1))
    assert driver.sent() == []


def test_all_reads_every_page_and_count_reads_none() -> None:
    query = Post.find(Post.sender_username == "alice")
    posts, driver = run(query._all_op(2), reply(1, 2, total=3), reply(3, total=3), reply(total=3))
    assert [p.id for p in posts] == ["p1", "p2", "p3"]
    assert len(driver.sent()) == 3
    count, driver = run(query._count_op(), [3])
    assert count == 3 and "NOCONTENT" in driver.sent()[0].args  # type: ignore[union-attr]


@pytest.fixture
def full_text_off() -> Iterator[None]:
    binding.bind(load_settings(full_text_search=False))
    yield
    binding.bind(None)


def test_a_word_query_with_full_text_off_says_so_before_searching(full_text_off: None) -> None:
    driver = ScriptedDriver()
    with pytest.raises(QueryValueError, match="full-text search is off"):
        driver.run(Post.find(Post.text % "hello")._page_op(0, 1))
    assert driver.sent() == []
