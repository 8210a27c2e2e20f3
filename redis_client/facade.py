"""One method table, two facades: ``RedisDB`` (sync) and ``AsyncRedisDB`` (asyncio).

Every classic method is listed once, in :class:`Methods`, as the operation that implements it
(``redis_client.ops``). The :class:`method` descriptor turns it into a plain method on a
:class:`SyncFacade` and into a coroutine method on an :class:`AsyncFacade`: same name, same
arguments, same keys, validation and errors; only the driver differs.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from .core import readiness
from .core.capabilities import Capabilities
from .core.connector import Connector
from .core.drivers import SyncDriver, arun
from .core.protocol import Models, Op, before_first_request
from .core.settings import RedisSettings
from .function_variables import DEFAULT_FUNCTION_VARIABLES
from .ops import accounts, posts, values
from .ops.context import Context

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class Facade:
    """What both facades share: the connector, the settings, the prompt map, pickling."""

    def __init__(
        self,
        settings: RedisSettings | None = None,
        function_variables: dict[str, list[str]] | None = None,
        *,
        connector: Connector | None = None,
    ) -> None:
        self.connector = connector if connector is not None else Connector(settings)
        if connector is not None and settings is not None:
            connector.reconfigure(settings)
        # A deep copy: neither the caller's map nor the module default is shared or mutated.
        source = DEFAULT_FUNCTION_VARIABLES if function_variables is None else function_variables
        self.function_variables = {name: list(v) for name, v in source.items()}
        #: The process in which the prompt map was stored by a first command.
        self._stored_in: int | None = None

    @property
    def settings(self) -> RedisSettings:
        return self.connector.settings

    def reconfigure(self, settings: RedisSettings | None) -> None:
        """Use other settings from the next command on (None: read the environment again)."""
        self.connector.reconfigure(settings)
        self._stored_in = None

    def _with_first_write(self, op: Op[T]) -> Op[T]:
        """``op``, preceded on the process's first command by the store of the prompt map (the
        original stored it at startup; services read it). After validation: bad input writes nothing."""
        if self._stored_in == os.getpid():
            return op
        return before_first_request(self._store_function_variables(), op)

    def _store_function_variables(self) -> Op[None]:
        yield from accounts.store_function_variables(self, first_command=True)
        self._stored_in = os.getpid()

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled by settings only: sockets and locks stay behind, the copy reconnects lazily.
        return (type(self), (self.settings, self.function_variables))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.connector.describe()}>"


class SyncFacade(Facade):
    def _run(self, op: Op[T]) -> T:
        return SyncDriver(self.connector).run(self._with_first_write(op))

    @property
    def r(self) -> Any:
        """The underlying ``redis.Redis`` (bytes responses) on this process's pool."""
        return self.connector.client()

    @property
    def capabilities(self) -> Capabilities:
        """Which modules the server has (asked once per process; the indexes are made ready)."""
        SyncDriver(self.connector).run(_models_op())
        caps = self.connector.capabilities
        assert caps is not None
        return caps

    def wait_for_redis(self, timeout: float) -> bool:
        """True when the server answers within ``timeout`` seconds, else False (never raises).

        Settings that cannot work (credentials or certificate refused) give False at once.
        """
        return readiness.is_ready(self.settings, timeout)

    def __setitem__(self, key: str, value: Any) -> None:
        self._run(values.set_(self, key, value))

    def __delitem__(self, key: str) -> None:
        self._run(values.delete(self, key))


class AsyncFacade(Facade):
    async def _arun(self, op: Op[T]) -> T:
        return await arun(self.connector, self._with_first_write(op))

    @property
    def r(self) -> Any:
        """The running loop's ``redis.asyncio.Redis`` (bytes responses); connects on first await."""
        return self.connector.async_client_nowait()

    async def wait_for_redis(self, timeout: float) -> bool:
        """True when the server answers within ``timeout`` seconds, else False (never raises)."""
        return await readiness.ais_ready(self.settings, timeout)

    async def aclose(self) -> None:
        """Close this instance's connector's connections of the running loop (for the shared ``db``,
        those of the shared connector, which the models' async queries use too); a later call
        reconnects."""
        await self.connector.aclose()

    async def __aenter__(self: T) -> T:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __setitem__(self, key: str, value: Any) -> None:
        raise TypeError("an AsyncRedisDB cannot assign with db[key] = value: use await db.set(key, value)")

    def __delitem__(self, key: str) -> None:
        raise TypeError("an AsyncRedisDB cannot delete with del db[key]: use await db.delete(key)")


def _models_op() -> Op[bool]:
    return bool((yield Models()))


class method(Generic[P, R]):
    """A classic method from its operation: sync on a ``SyncFacade``, a coroutine on an ``AsyncFacade``."""

    def __init__(self, op: Callable[Concatenate[Context, P], Op[R]]) -> None:
        self.op = op
        self.name = op.__name__.rstrip("_")
        self._made: dict[type, Callable[..., Any]] = {}

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> method[P, R]: ...

    @overload
    def __get__(self, obj: SyncFacade, owner: type) -> Callable[P, R]: ...

    @overload
    def __get__(self, obj: AsyncFacade, owner: type) -> Callable[P, Coroutine[Any, Any, R]]: ...

    def __get__(self, obj: Any, owner: type) -> Any:
        function = self._made.get(owner)
        if function is None:
            function = self._made[owner] = self._make(owner)
        return function if obj is None else function.__get__(obj, owner)

    def _make(self, owner: type) -> Callable[..., Any]:
        op = self.op
        if issubclass(owner, AsyncFacade):

            async def call_async(self: Any, *args: Any, **kwargs: Any) -> Any:
                return await self._arun(op(self, *args, **kwargs))

            function: Callable[..., Any] = call_async
        else:

            def call_sync(self: Any, *args: Any, **kwargs: Any) -> Any:
                return self._run(op(self, *args, **kwargs))

            function = call_sync
        functools.update_wrapper(function, op)
        function.__name__ = function.__qualname__ = self.name
        del function.__wrapped__  # type: ignore[attr-defined]
        signature = inspect.signature(op)
        params = list(signature.parameters.values())
        returns = signature.return_annotation  # "Op[X]": the method returns X
        if isinstance(returns, str) and returns.startswith("Op[") and returns.endswith("]"):
            returns = returns[3:-1]
        function.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[params[0].replace(name="self", annotation=inspect.Parameter.empty), *params[1:]],
            return_annotation=returns,
        )
        return function


class Methods:
    """The classic API: every ``RedisDB`` method, each once (``RedisDB`` and ``AsyncRedisDB``)."""

    # values, sets, sorted sets, key patterns
    get = method(values.get)
    set = method(values.set_)
    setex = method(values.setex)
    set_default = method(values.set_default)
    delete = method(values.delete)
    __getitem__ = method(values.get)
    parse_list = method(values.parse_list)
    get_keys_by_pattern = method(values.get_keys_by_pattern)
    get_keys_by_pattern_blocking = method(values.get_keys_by_pattern_blocking)
    add_to_set = method(values.add_to_set)
    get_set = method(values.get_set)
    add_to_sorted_set = method(values.add_to_sorted_set)
    get_sorted_set = method(values.get_sorted_set)
    # posts
    add_user_post = method(posts.add_user_post)
    add_user_posts = method(posts.add_user_posts)
    get_user_posts = method(posts.get_user_posts)
    get_user_posts_by_create_time = method(posts.get_user_posts_by_create_time)
    # accounts
    add_send_partnership = method(accounts.add_send_partnership)
    get_send_partnership = method(accounts.get_send_partnership)
    get_twitter_data_keys = method(accounts.get_twitter_data_keys)
    get_active_twitter_accounts = method(accounts.get_active_twitter_accounts)
    is_account_active = method(accounts.is_account_active)
    get_account_last_action_time = method(accounts.get_account_last_action_time)
    update_account_last_action_time = method(accounts.update_account_last_action_time)
    remove_account = method(accounts.remove_account)
    get_function_variables = method(accounts.get_function_variables)
    save_tweet_link = method(accounts.save_tweet_link)
