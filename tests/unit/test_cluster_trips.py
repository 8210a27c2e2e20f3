"""How a cluster pipeline is sent: one round trip per node, redirected calls routed again (no server)."""

from __future__ import annotations

from typing import Any

import pytest
from redis.exceptions import ConnectionError, MovedError, ResponseError

from redis_client.core import cluster
from redis_client.core.errors import ServerUnavailableError
from redis_client.core.protocol import Call

WAIT = Call("execute_command", ("WAIT", 1, 100))


def run(plan: Any, answer: Any) -> tuple[list[Any], list[Any]]:
    """Drive ``plan`` with ``answer(step)``; the result and the steps."""
    steps: list[Any] = []
    reply: Any = None
    error: Exception | None = None
    while True:
        try:
            step = plan.send(reply) if error is None else plan.throw(error)
        except StopIteration as stop:
            return stop.value, steps
        steps.append(step)
        reply, error = None, None
        try:
            reply = answer(step)
        except Exception as exc:  # noqa: BLE001 - thrown into the plan, as a driver does
            error = exc


def test_one_trip_per_node_in_the_calls_order() -> None:
    calls = [Call("get", (k,)) for k in ("a1", "b1", "a2")]
    plan = cluster.trips(calls, None, lambda c: c.args[0][0], 5.0)
    result, steps = run(plan, lambda step: [f"{c.args[0]}!" for c in step.calls])
    assert result == ["a1!", "b1!", "a2!"]
    assert [(s.node, [c.args[0] for c in s.calls]) for s in steps] == [("a", ["a1", "a2"]), ("b", ["b1"])]


def test_a_moved_call_is_sent_again_after_a_refresh_and_its_wait_counts_there() -> None:
    owner = {"k": "old"}
    calls = [Call("set", ("k", 1)), Call("set", ("j", 2))]

    def answer(step: Any) -> Any:
        if isinstance(step, cluster.Refresh):
            owner["k"] = "new"
            return None
        replies: list[Any] = []
        for call in step.calls:
            moved = step.node == "old" and call.args[0] == "k"
            replies.append(MovedError("1 new:1") if moved else True)
        # the old node is a replica now: its WAIT is an error, which must not win
        replica = ResponseError("WAIT cannot be used with replica instances")
        return [*replies, replica if step.node == "old" else 1]

    plan = cluster.trips(calls, WAIT, lambda c: owner.get(c.args[0], "other"), 5.0)
    result, steps = run(plan, answer)
    assert result == [True, True, 1]
    assert any(isinstance(s, cluster.Refresh) for s in steps)


def test_the_smallest_wait_over_the_nodes_is_the_answer() -> None:
    calls = [Call("set", ("a", 1)), Call("set", ("b", 1))]
    plan = cluster.trips(calls, WAIT, lambda c: c.args[0], 5.0)
    result, _ = run(plan, lambda step: [True, 2 if step.node == "a" else 0])
    assert result == [True, True, 0]


def test_a_node_unreachable_past_the_patience_is_a_clear_error() -> None:
    plan = cluster.trips([Call("get", ("a",))], None, lambda c: "dead", 0.0)

    def answer(step: Any) -> Any:
        if isinstance(step, cluster.NodeTrip):
            raise ConnectionError("refused")
        return None

    with pytest.raises(ServerUnavailableError, match="REDIS_STARTUP_WAIT"):
        run(plan, answer)
