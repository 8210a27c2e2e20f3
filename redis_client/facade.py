"""What ``RedisDB`` and ``AsyncRedisDB`` share: the connector, the prompt map and its first store, pickling.

Each facade writes out every classic method: one line that runs the method's operation
(``redis_client.ops``) with its driver, ``RedisDB`` with the sync one and ``AsyncRedisDB``
awaiting the asyncio one. So both have the same keys, validation and errors; only the I/O
differs. ``tests/test_facades.py`` checks that they have the same methods and arguments.
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

from .core.connector import Connector
from .core.protocol import Op, before_first_request
from .core.settings import RedisSettings
from .function_variables import DEFAULT_FUNCTION_VARIABLES
from .ops import accounts

T = TypeVar("T")


class Facade:
    """The connector (the one place settings are read from), the prompt map, pickling."""

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
        yield from accounts.store_function_variables(self.function_variables, first_command=True)
        self._stored_in = os.getpid()

    def _link_token_ttl(self) -> int:
        return accounts.link_token_ttl(self.connector.settings)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled by settings only: sockets and locks stay behind, the copy reconnects lazily.
        return (type(self), (self.settings, self.function_variables))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.connector.describe()}>"
