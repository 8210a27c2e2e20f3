"""What the ``RedisDB`` mixins need from the class that combines them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis
    from redis.commands.core import Script


class Connected:
    """The connection side of ``RedisDB``; the mixins build on it."""

    @property
    def r(self) -> redis.Redis:
        raise NotImplementedError

    def _script(self, name: str) -> Script:
        raise NotImplementedError

    def _models_enabled(self) -> bool:
        raise NotImplementedError
