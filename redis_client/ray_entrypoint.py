"""Ray entry point: ``ray.get(main.remote())`` and ``main()`` both return a working ``RedisDB``.

Importing this module does not import or start Ray: ``main.remote`` resolves Ray on first use.
A ``RedisDB`` crosses process boundaries by its settings and reconnects lazily where it lands.
"""

from __future__ import annotations

from typing import Any

from .db import RedisDB
from .main import get_redis_db

_remote: Any = None


def _make_db() -> RedisDB:
    return get_redis_db()


class _Entrypoint:
    """Callable like a function; ``.remote()`` runs it as a Ray task (Ray imported lazily)."""

    __name__ = "main"

    def __call__(self) -> RedisDB:
        return _make_db()

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        return self.options().remote(*args, **kwargs)

    def options(self, **options: Any) -> Any:
        global _remote
        if _remote is None:
            import ray

            _remote = ray.remote(_make_db)
        return _remote.options(**options) if options else _remote


main = _Entrypoint()
