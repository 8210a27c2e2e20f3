"""Search indexes of the models: created on first use, rebuilt when a model's schema changes.

The models register an :class:`IndexSpec` each; this module knows nothing else about them. A
schema's SHA-1 is kept under ``redis_client_om:schema:{index}``; when it differs from the code's,
the index is dropped (never its documents) and created again. Check and rebuild run under
redis-py's ``Lock``, so replicas starting together build each index once.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import redis

from . import codec, keys, slots
from .protocol import Call, Locked, Op, Shards, Sleep
from .settings import RedisSettings

log = logging.getLogger(__name__)

#: How long to wait for a new index to finish indexing existing records.
INDEXING_WAIT = 30.0
#: Longest a process may hold, or wait for, the lock around an index rebuild.
LOCK_TIMEOUT = 60.0


@dataclass(frozen=True)
class IndexSpec:
    #: The index name (``FT.CREATE {name}``).
    name: str
    #: The model's name, for log lines.
    label: str
    #: FT.CREATE arguments after the name, for these settings (None: the defaults).
    schema: Callable[[RedisSettings | None], list[str]]

    def schema_hash(self, settings: RedisSettings | None = None) -> str:
        return hashlib.sha1(" ".join(self.schema(settings)).encode()).hexdigest()


_registry: dict[str, IndexSpec] = {}


def register(spec: IndexSpec) -> IndexSpec:
    """Make ``spec`` one of the indexes ensured on first model use."""
    _registry[spec.name] = spec
    return spec


def registered() -> list[IndexSpec]:
    return list(_registry.values())


def index_exists(name: str) -> Op[bool]:
    try:
        yield Call("execute_command", ("FT.INFO", name), text=True)
        return True
    except redis.ResponseError as exc:
        message = str(exc).lower()
        if "unknown index" in message or "no such index" in message:
            return False
        raise


def _up_to_date(spec: IndexSpec, wanted: str) -> Op[bool]:
    stored = yield Call("get", (keys.schema_hash_key(spec.name),), text=True)
    if stored != wanted:
        return False
    return (yield from index_exists(spec.name))


def _rebuild(spec: IndexSpec, wanted: str, settings: RedisSettings | None) -> Op[bool]:
    if (yield from _up_to_date(spec, wanted)):
        return False  # another process built it while we waited for the lock
    if (yield from index_exists(spec.name)):
        log.info("schema of %s changed: rebuilding index %s", spec.label, spec.name)
        yield Call("execute_command", ("FT.DROPINDEX", spec.name), text=True)  # keeps the records
    yield Call("execute_command", ("FT.CREATE", spec.name, *spec.schema(settings)), text=True)
    yield Call("set", (keys.schema_hash_key(spec.name), wanted), text=True)
    log.info("created index %s", spec.name)
    return True


def ensure_index(spec: IndexSpec, settings: RedisSettings | None = None) -> Op[bool]:
    """Create the index if missing or outdated; True when it (re)built it."""
    wanted = spec.schema_hash(settings)
    if (yield from _up_to_date(spec, wanted)):
        return False
    built: bool = yield Locked(
        keys.schema_lock_key(spec.name), LOCK_TIMEOUT, LOCK_TIMEOUT, _rebuild(spec, wanted, settings)
    )
    yield from wait_indexed(spec.name)
    return built


def ensure_registered(settings: RedisSettings | None = None) -> Op[list[str]]:
    """Ensure every registered index; the names of those (re)built."""
    return (yield from ensure_indexes(registered(), settings))


def ensure_on_primaries(settings: RedisSettings | None = None) -> Op[dict[str, dict[str, str]]]:
    """On a cluster whose search module has no coordinator: every registered index on every
    primary, each under a name whose hash tag is a slot that primary serves (RediSearch treats
    the name as a key); returns each index's name on each primary.

    A primary keeps an index it already has while it still serves that name's slot; else it
    gets one named after its highest slot (resharding tools move the lowest slots first).
    """
    plan: dict[str, dict[str, str]] = {spec.name: {} for spec in registered()}
    for node, owned in (yield Shards()).items():
        present = set(codec.text(n) for n in (yield Call("execute_command", ("FT._LIST",), node=node)))
        served = set(owned)
        for spec in registered():
            kept = sorted(
                name for name in present
                if (tag := keys.index_tag(name, spec.name)) is not None and slots.slot_of(tag) in served
            )
            name = kept[0] if kept else keys.shard_index(spec.name, slots.tag_for_slot(max(owned)))
            yield from ensure_index(replace(spec, name=name), settings)
            plan[spec.name][node] = name
    return plan


def coordinated(plan: dict[str, dict[str, str]]) -> Op[bool]:
    """Whether the cluster's search module has a coordinator, given ``ensure_on_primaries``'s
    plan: a primary lists an index the plan created on another primary. Without a coordinator an
    index lives on the node serving its name's slot only; a coordinator sends ``FT.CREATE`` to
    every shard, so each of the per-primary indexes would see every record."""
    nodes = sorted({node for names in plan.values() for node in names})
    if len(nodes) < 2:
        return False
    for node in nodes:
        present = set(codec.text(n) for n in (yield Call("execute_command", ("FT._LIST",), node=node)))
        if any(name in present for names in plan.values() for other, name in names.items() if other != node):
            return True
    return False


def drop_plan(plan: dict[str, dict[str, str]]) -> Op[None]:
    """Drop the per-primary indexes of ``plan`` (each on its node; the records stay)."""
    for names in plan.values():
        for node, name in names.items():
            with contextlib.suppress(redis.ResponseError):  # already gone (a coordinator dropped it)
                yield Call("execute_command", ("FT.DROPINDEX", name), node=node)


def ensure_indexes(specs: Iterable[IndexSpec], settings: RedisSettings | None = None) -> Op[list[str]]:
    built = []
    for spec in specs:
        if (yield from ensure_index(spec, settings)):
            built.append(spec.name)
    return built


def wait_indexed(name: str, timeout: float = INDEXING_WAIT) -> Op[None]:
    """Wait until the index has scanned the records that existed when it was created."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = yield Call("execute_command", ("FT.INFO", name), text=True)
        fields = dict(zip(info[::2], info[1::2], strict=True)) if isinstance(info, list) else info
        if codec.text(fields.get("indexing", 0)) == "0":
            return
        yield Sleep(0.05)
    log.warning("index %s still indexing after %.0fs", name, timeout)


def outdated(specs: Iterable[IndexSpec], settings: RedisSettings | None = None) -> Op[list[str]]:
    """Names of the indexes that are missing or whose schema changed (nothing is written)."""
    out = []
    for spec in specs:
        if not (yield from _up_to_date(spec, spec.schema_hash(settings))):
            out.append(spec.name)
    return out


def drop_indexes(specs: Iterable[IndexSpec]) -> Op[None]:
    """Drop the indexes (not the records) and their schema hashes."""
    for spec in specs:
        if (yield from index_exists(spec.name)):
            yield Call("execute_command", ("FT.DROPINDEX", spec.name), text=True)
        yield Call("delete", (keys.schema_hash_key(spec.name),), text=True)
