"""``RedisDB``: the classic API, one lazily connected instance per process, picklable by settings."""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any

import redis

from . import capabilities, connection, scripts
from .accounts import AccountsMixin
from .function_variables import DEFAULT_FUNCTION_VARIABLES
from .posts import PostsMixin
from .settings import RedisSettings, load_settings
from .values import ValuesMixin

if TYPE_CHECKING:
    from redis.commands.core import Script

log = logging.getLogger("redis_client")


class RedisDB(ValuesMixin, PostsMixin, AccountsMixin):
    """The original tool's API on the legacy keys, keeping the ``Post``/``TwitterAccount`` records in step.

    Nothing connects until the first command; that command waits up to ``startup_wait`` seconds
    for a server that is down or loading, then raises ``redis.ConnectionError``. Thread-safe.
    """

    def __init__(
        self,
        settings: RedisSettings | None = None,
        function_variables: dict[str, list[str]] | None = None,
    ) -> None:
        self._settings = settings
        # A deep copy: neither the caller's map nor the module default is shared or mutated.
        source = DEFAULT_FUNCTION_VARIABLES if function_variables is None else function_variables
        self.function_variables = {name: list(v) for name, v in source.items()}
        self._lock = threading.Lock()
        self._caps_lock = threading.Lock()  # one probe (and one warning) per connection
        self._reset()

    def _reset(self) -> None:
        self._client: redis.Redis | None = None
        self._pid: int | None = None
        self._caps: capabilities.Capabilities | None = None
        self._scripts: dict[str, Script] = {}

    @property
    def settings(self) -> RedisSettings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    def reconfigure(self, settings: RedisSettings | None) -> None:
        """Use other settings from the next command on (None: read the environment again)."""
        with self._lock:
            self._settings = settings
            self._reset()

    @property
    def r(self) -> redis.Redis:
        """The underlying ``redis.Redis`` (bytes responses) on this process's pool."""
        client = self._client
        if client is not None and self._pid == os.getpid():
            return client
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                settings = self.settings
                connection.ensure_ready(settings, settings.startup_wait)
                self._reset()
                self._client = connection.get_client(settings, decode=False)
                self._pid = os.getpid()
            return self._client

    def wait_for_redis(self, timeout: float) -> bool:
        """True when the server answers within ``timeout`` seconds, else False (never raises).

        Settings that cannot work (credentials or certificate refused) give False at once.
        """
        return connection.wait_until_ready(self.settings, timeout)

    @property
    def capabilities(self) -> capabilities.Capabilities:
        """Which modules the server has (asked once per process)."""
        caps = self._caps
        if caps is not None:
            return caps
        with self._caps_lock:  # taken before ``self.r``'s lock, never inside it
            if self._caps is not None:
                return self._caps
            caps = capabilities.probe(self.r)
            if caps.models:
                from models import binding

                binding.prepare(connection.get_client(self.settings, decode=True), self.settings)
            else:
                log.warning(
                    "Redis at %s %s: model records are not written, "
                    "classic methods work on the legacy keys only",
                    self.settings.describe(),
                    caps.problem(),
                )
            self._caps = caps
            return caps

    def _models_enabled(self) -> bool:
        return self.capabilities.models

    def _script(self, name: str) -> Script:
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self.r.register_script(getattr(scripts, name))
        return script

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled by settings only: sockets and locks stay behind, the copy reconnects lazily.
        return (RedisDB, (self.settings, self.function_variables))

    def __repr__(self) -> str:
        where = self._settings.describe() if self._settings else "settings from the environment"
        return f"<RedisDB {where}>"
