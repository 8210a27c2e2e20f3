"""What an operation may ask of the facade that runs it."""

from __future__ import annotations

from typing import Protocol

from ..core.connector import Connector
from ..core.settings import RedisSettings


class Context(Protocol):
    @property
    def settings(self) -> RedisSettings: ...

    @property
    def connector(self) -> Connector: ...

    #: The prompt-variable map ``get_function_variables`` returns and stores.
    function_variables: dict[str, list[str]]
