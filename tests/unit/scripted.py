"""``ScriptedDriver``: runs an operation without a server, answering its requests from a script.

Every request the operation yields is recorded (``driver.requests``) and answered by the next
scripted reply: a value is sent back, an exception instance is raised at the ``yield`` (as a
driver does with the error a request got), a callable is called with the request and its
result used. ``Models`` is answered by ``models`` without using a reply (True, False, or an
exception to raise), ``Sleep`` and ``ForgetIndexes`` by None, and a ``Locked`` body is run in
place. The topology requests (``Clustered``, ``Primaries``, ``Shards``, ``Indexes``) are answered
from ``shards`` (none, the default, is one server) and recorded in ``driver.topology``, not in
``driver.requests``. A request with no reply left fails the test,
and so does a reply left unused (``driver.done()``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from redis_client.core.protocol import (
    Call,
    Clustered,
    ForgetIndexes,
    Indexes,
    Locked,
    Models,
    Op,
    Pipeline,
    Primaries,
    Request,
    Script,
    Shards,
    Sleep,
)

T = TypeVar("T")

#: Requests about the topology, answered from the driver's ``shards``.
TOPOLOGY = (Clustered, Primaries, Shards, Indexes)


class ScriptedDriver:
    def __init__(
        self,
        replies: Iterable[Any] = (),
        *,
        models: bool | BaseException = True,
        shards: dict[str, tuple[int, ...]] | None = None,
    ) -> None:
        self.replies: deque[Any] = deque(replies)
        self.models = models
        self.shards = shards or {}
        self.requests: list[Request] = []
        #: The topology requests (answered from ``shards``, no reply used), in order.
        self.topology: list[Request] = []

    def run(self, op: Op[T]) -> T:
        result: Any = None
        error: BaseException | None = None
        while True:
            try:
                request = op.send(result) if error is None else op.throw(error)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            if not isinstance(request, TOPOLOGY):  # local look-ups, recorded apart
                self.requests.append(request)
            else:
                self.topology.append(request)
            result, error = None, None
            try:
                result = self.answer(request)
            except Exception as exc:  # as a driver does: handed to the operation at its yield
                error = exc

    def answer(self, request: Request) -> Any:
        match request:
            case Models():
                if isinstance(self.models, BaseException):
                    raise self.models
                return self.models
            case Sleep() | ForgetIndexes():
                return None
            case Locked(body=body):
                return self.run(body)
            case Clustered():
                return bool(self.shards)
            case Primaries():
                return sorted(self.shards) if self.shards else [None]
            case Shards():
                return dict(self.shards)
            case Indexes(name=name):
                return [name]
            case Call() | Script() | Pipeline():
                if not self.replies:
                    raise AssertionError(f"no reply scripted for {request!r}")
                reply = self.replies.popleft()
                if isinstance(reply, BaseException):
                    raise reply
                return reply(request) if callable(reply) else reply
        raise AssertionError(f"not a request: {request!r}")

    def done(self) -> None:
        """Fail when scripted replies were left unused (the operation made fewer requests)."""
        assert not self.replies, f"replies never asked for: {list(self.replies)!r}"

    def sent(self) -> list[Request]:
        """The requests that reach the server (``Call``, ``Script``, ``Pipeline``), in order."""
        return [r for r in self.requests if isinstance(r, (Call, Script, Pipeline))]


def run(op: Op[T], *replies: Any, models: bool | BaseException = True) -> tuple[T, ScriptedDriver]:
    """``op`` run on a :class:`ScriptedDriver` with these replies, every one used; its result
    and the driver (for its requests)."""
    driver = ScriptedDriver(replies, models=models)
    result = driver.run(op)
    driver.done()
    return result, driver


def reply_each(fn: Callable[[Any], Any]) -> Callable[[Pipeline], list[Any]]:
    """A reply to a ``Pipeline``: ``fn(call)`` for each of its calls."""
    return lambda request: [fn(call) for call in request.calls]
