"""``redis_client.ops.values`` without a server: validation before I/O, requests, parsing of replies."""

from __future__ import annotations

import math

import pytest
from scripted import ScriptedDriver, run

from redis_client.core.errors import InvalidValueError, StoredValueError
from redis_client.core.protocol import Call
from redis_client.ops import values


def test_get_decodes_json_and_falls_back_to_the_default() -> None:
    assert run(values.get("k"), b'{"a": [1]}')[0] == {"a": [1]}
    assert run(values.get("k"), None)[0] is None
    assert run(values.get("k", 3), None)[0] == 3
    assert run(values.get("k", 3), b"")[0] == 3  # an empty string left by another writer
    _, driver = run(values.get("k"), None)
    assert driver.requests == [Call("get", ("k",))]


def test_get_of_a_value_that_is_not_json_says_which_key() -> None:
    with pytest.raises(StoredValueError, match="'k'"):
        run(values.get("k"), b"not json")


@pytest.mark.parametrize("value", [{1, 2}, math.nan, object()])
def test_set_refuses_what_json_cannot_hold_before_any_request(value: object) -> None:
    driver = ScriptedDriver()
    with pytest.raises(InvalidValueError, match="'k'"):
        driver.run(values.set_("k", value))
    assert driver.requests == []


def test_set_and_setex_send_json() -> None:
    assert run(values.set_("k", [1, "é"]), True)[1].requests == [
        Call("set", ("k", '[1, "\\u00e9"]'), {"keepttl": False})
    ]
    assert run(values.set_("k", 1, keep_ttl=True), True)[1].requests == [
        Call("set", ("k", "1"), {"keepttl": True})
    ]
    assert run(values.setex("k", 1, 30), True)[1].requests == [Call("set", ("k", "1"), {"ex": 30})]


def test_set_and_setex_of_none_delete_the_key() -> None:
    assert run(values.set_("k", None), 1)[1].requests == [Call("delete", ("k",))]
    assert run(values.setex("k", None, 30), 1)[1].requests == [Call("delete", ("k",))]


def test_set_default_writes_only_over_a_missing_or_empty_value() -> None:
    _, driver = run(values.set_default("k", 5), b"", True)
    assert driver.requests == [Call("get", ("k",)), Call("set", ("k", "5"), {"keepttl": False})]
    _, driver = run(values.set_default("k", 5), b"4")
    assert driver.requests == [Call("get", ("k",))]
    _, driver = run(values.set_default("k", 0))  # a falsy value is never stored
    assert driver.requests == []


def test_delete_sends_one_delete() -> None:
    assert run(values.delete("k"), 1)[1].requests == [Call("delete", ("k",))]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(b"[1, 2]", [1, 2]), (b'"a,b"', ["a", "b"]), (b'"-"', []), (b'""', []), (None, [])],
)
def test_parse_list(raw: bytes | None, expected: list[object]) -> None:
    assert run(values.parse_list("k"), raw)[0] == expected


def test_parse_list_of_another_shape_is_a_stored_value_error() -> None:
    with pytest.raises(StoredValueError, match="not a list or str"):
        run(values.parse_list("k"), b'{"a": 1}')


def test_key_patterns_scan_page_by_page_and_keep_each_key_once() -> None:
    keys, driver = run(values.get_keys_by_pattern("a*"), (7, [b"a1", b"a2"]), (0, [b"a2", b"a3"]))
    assert keys == ["a1", "a2", "a3"]
    assert [r.args for r in driver.requests] == [(0,), (7,)]  # type: ignore[union-attr]
    assert driver.requests[0] == Call("scan", (0,), {"match": "a*", "count": 1000, "_type": None})
    assert run(values.get_keys_by_pattern_blocking("a*"), [b"a1"])[0] == ["a1"]


def test_sets_and_sorted_sets() -> None:
    assert run(values.add_to_set("s", "v"), 1)[1].requests == [Call("sadd", ("s", "v"))]
    assert run(values.get_set("s"), {b"v"})[0] == ["v"]
    assert run(values.add_to_sorted_set("z", 2.5, "v"), 1)[1].requests == [Call("zadd", ("z", {"v": 2.5}))]
    members, driver = run(values.get_sorted_set("z", 1, 3), [b"a", b"b"])
    assert members == ["a", "b"] and driver.requests == [Call("zrange", ("z", 1, 3))]
