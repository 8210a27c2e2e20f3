"""What the server can do: the JSON and search modules that model records need, on database 0."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from . import keys, slots
from .errors import ModuleMissingError
from .protocol import Call, Op, Pipeline, Shards


@dataclass(frozen=True)
class Capabilities:
    json: bool
    search: bool
    #: The database index in use: RediSearch creates indexes on database 0 only.
    database: int = 0
    #: A cluster whose search module has a coordinator (see ``indexes.coordinated``).
    coordinator: bool = False

    @property
    def models(self) -> bool:
        return self.json and self.search and self.database == 0 and not self.coordinator

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
        if self.coordinator:
            return (
                "is a cluster whose search module has a coordinator (an index created on one "
                "primary is listed by the others): redis-client keeps one index per primary, "
                "which there would return each record once per primary, so model records and "
                "queries are not supported on it yet"
            )
        if self.database != 0:
            return (
                f"uses database {self.database}: search indexes exist on database 0 only "
                "(REDIS_DB=0 or a URL ending in /0)"
            )
        return ""

    def require_models(self, where: str) -> None:
        """Raise :class:`ModuleMissingError` saying what the server lacks."""
        if self.models:
            return
        need = "" if self.coordinator else (
            "; model records and queries need the JSON and search modules on database 0"
        )
        use = "" if self.coordinator else (
            " Use Redis 8, Redis Stack, or `redis-client server` (the embedded server)."
        )
        raise ModuleMissingError(
            f"the Redis server at {where} {self.problem()}{need}. Classic RedisDB methods still "
            f"work on the legacy keys.{use}"
        )


def probe(database: int) -> Op[Capabilities]:
    """Ask the server, in one round trip, whether ``JSON.TYPE`` and ``FT._LIST`` exist.

    Both are read-only and harmless; an unknown command (or one the ACL user may not run)
    comes back as an error, which means the module cannot be used. On a cluster each primary is
    asked (a ``MOVED`` is not an answer).
    """
    shards: dict[str, tuple[int, ...]] = yield Shards()  # on a cluster, every primary must have them
    probes: list[tuple[str | None, str]] = [(None, keys.PROBE_KEY)]
    if shards:  # a probe key each primary serves: another's slot is answered with MOVED
        probes = [(node, keys.shard_index(keys.PROBE_KEY, slots.tag_for_slot(owned[0])))
                  for node, owned in shards.items()]
    replies = yield Pipeline(
        [
            call
            for node, probe_key in probes
            for call in (
                Call("execute_command", ("JSON.TYPE", probe_key), node=node),
                Call("execute_command", ("FT._LIST",), node=node),
            )
        ]
    )
    return Capabilities(
        json=not any(isinstance(r, redis.ResponseError) for r in replies[0::2]),
        search=not any(isinstance(r, redis.ResponseError) for r in replies[1::2]),
        database=database,
    )
