"""What the server can do: the JSON and search modules that model records need, on database 0."""

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
    #: The database index in use: RediSearch creates indexes on database 0 only.
    database: int = 0

    @property
    def models(self) -> bool:
        return self.json and self.search and self.database == 0

    def missing(self) -> list[str]:
        names = []
        if not self.json:
            names.append("JSON (RedisJSON: JSON.SET)")
        if not self.search:
            names.append("search (RediSearch: FT.SEARCH)")
        return names

    def problem(self) -> str:
        """Why model records cannot be used here ('' when they can)."""
        if self.missing():
            return "lacks the " + " and ".join(self.missing()) + " module"
        if self.database != 0:
            return (
                f"uses database {self.database}: search indexes exist on database 0 only "
                "(REDIS_DB=0 or a URL ending in /0)"
            )
        return ""

    def require_models(self, where: str) -> None:
        """Raise :class:`ModuleMissingError` saying what the server lacks."""
        if not self.models:
            raise ModuleMissingError(
                f"the Redis server at {where} {self.problem()}; model records and queries need "
                "the JSON and search modules on database 0. Classic RedisDB methods still work "
                "on the legacy keys. Use Redis 8, Redis Stack, or `redis-client server` (the "
                "embedded server)."
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
    database = int(pool.connection_kwargs.get("db", 0) or 0)
    return Capabilities(json=bool(json_ok), search=bool(search_ok), database=database)
