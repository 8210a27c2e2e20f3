"""What the server can do: the JSON and search modules that model records need."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis

from .errors import ModuleMissingError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Capabilities:
    json: bool
    search: bool

    @property
    def models(self) -> bool:
        return self.json and self.search

    def missing(self) -> list[str]:
        names = []
        if not self.json:
            names.append("JSON (RedisJSON: JSON.SET)")
        if not self.search:
            names.append("search (RediSearch: FT.SEARCH)")
        return names

    def require_models(self, where: str) -> None:
        """Raise :class:`ModuleMissingError` naming what the server lacks."""
        if not self.models:
            raise ModuleMissingError(
                f"the Redis server at {where} lacks the "
                + " and ".join(self.missing())
                + " module; model records and queries need both. Classic RedisDB methods"
                " still work on the legacy keys. Use Redis 8, Redis Stack, or "
                "`redis-client server` (the embedded server)."
            )


def probe(client: redis.Redis) -> Capabilities:
    """Ask the server (COMMAND INFO) whether JSON.SET and FT.SEARCH exist."""
    # Read the raw reply: redis-py's COMMAND INFO parser fails on the nil entry of an unknown command.
    pool = client.connection_pool
    conn = pool.get_connection()
    try:
        conn.send_command("COMMAND", "INFO", "JSON.SET", "FT.SEARCH")
        info = conn.read_response()
    except BaseException:
        conn.disconnect()
        raise
    finally:
        pool.release(conn)
    json_ok, search_ok = (entry is not None for entry in info)
    return Capabilities(json=bool(json_ok), search=bool(search_ok))
