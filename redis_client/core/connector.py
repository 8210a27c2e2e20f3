"""``Connector``: where a facade (or the models) connects, and what it learnt about that server.

It holds the settings (read lazily: a bad value raises on first use, never at import), the sync
clients (on the process-wide pools), one set of asyncio clients per event loop (a pool belongs
to the loop that opened its connections), the registered Lua scripts of each client, and, per
process, the server's capabilities and whether the model indexes were made ready. Nothing here
connects at construction; the first client of a process (or loop) waits for the server up to
``startup_wait``. A connector is picklable by its settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import redis
import redis.asyncio
from redis.exceptions import RedisClusterException

from . import cluster, pools, readiness
from .capabilities import Capabilities
from .scripts import LuaScript
from .settings import RedisSettings, load_settings

if TYPE_CHECKING:
    from redis.asyncio.client import Redis as AsyncRedis
    from redis.commands.core import AsyncScript
    from redis.commands.core import Script as SyncScript

log = logging.getLogger("redis_client")


@dataclass
class LoopState:
    """The asyncio clients of one event loop."""

    clients: dict[bool, AsyncRedis[Any]] = field(default_factory=dict)
    #: On a cluster: a plain client per node (``host:port``), for the pipelines sent per node.
    nodes: dict[tuple[str, bool], AsyncRedis[Any]] = field(default_factory=dict)
    scripts: dict[LuaScript, AsyncScript] = field(default_factory=dict)
    ready: bool = False
    #: Serialises the startup wait within the loop.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: Serialises the capabilities probe and the index checks within the loop.
    models_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: Bounds the operations in flight on this loop (``max_in_flight``); made on first use.
    gate: asyncio.Semaphore | None = None


class Connector:
    def __init__(self, settings: RedisSettings | None = None) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        #: Held while capabilities and indexes are checked (one thread does it, the others wait).
        self.models_lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._clients: dict[bool, redis.Redis[Any]] = {}
        self._scripts: dict[LuaScript, SyncScript] = {}
        self._loops: dict[asyncio.AbstractEventLoop, LoopState] = {}
        self.capabilities: Capabilities | None = None
        self.indexes_ready = False
        #: On a cluster: each index's name on each primary (``host:port``), set with ``indexes_ready``.
        self.index_plan: dict[str, dict[str, str]] = {}
        self._warned = False

    def _check_pid(self) -> None:
        if self._pid != os.getpid():  # forked: nothing of the parent's connections is usable
            with self._lock:
                if self._pid != os.getpid():
                    self._reset()

    # --- settings ---

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

    def describe(self) -> str:
        return self._settings.describe() if self._settings else "settings from the environment"

    @property
    def database(self) -> int:
        return self.settings.database

    # --- sync ---

    def client(self, text: bool = False) -> redis.Redis[Any]:
        """The sync client (bytes, or text with ``text``); the first of a process waits for the server."""
        self._check_pid()
        found = self._clients.get(text)
        if found is not None:
            return found
        with self._lock:
            found = self._clients.get(text)
            if found is None:
                settings = self.settings
                if not self._clients:
                    readiness.ensure_ready(settings, settings.startup_wait)
                if settings.cluster:  # a RedisCluster: the same commands, routed by slot
                    built = cluster.build_client(settings, text)
                    found = self._clients[text] = cast("redis.Redis[Any]", built)
                else:
                    pool = pools.get_pool(settings, decode=text)
                    found = self._clients[text] = redis.Redis(connection_pool=pool)
            return found

    @property
    def clustered(self) -> bool:
        """Whether the server is a Redis Cluster (``REDIS_CLUSTER``)."""
        return self.settings.cluster

    def node_client(self, node: str, text: bool = False) -> redis.Redis[Any]:
        """On a cluster, a client of one node (``host:port``), on redis-py's pool for that node.

        Calls are routed by the bytes client's slot map: a node this client does not know (the
        text client's map is older: a replica promoted since) makes it reload its map. A node
        no longer in the cluster (a call routed before a failover) raises ``ConnectionError``:
        the drivers route the call again."""
        client: Any = self.client(text)
        found = client.get_node(node_name=node)
        if found is None:
            with contextlib.suppress(RedisClusterException, redis.RedisError):
                client.nodes_manager.initialize()
            found = client.get_node(node_name=node)
        if found is None:
            raise redis.ConnectionError(f"the node {node} is not in the cluster's slot map")
        return client.get_redis_connection(found)  # type: ignore[no-any-return]

    def script(self, script: LuaScript) -> SyncScript:
        """A script of ``redis_client.core.scripts`` as redis-py's ``Script``, on the bytes client."""
        found = self._scripts.get(script)
        if found is None:
            found = self._scripts[script] = self.client().register_script(script.text)
        return found

    # --- asyncio ---

    def loop_state(self) -> LoopState:
        """The running loop's clients (created empty on first use; no I/O)."""
        self._check_pid()
        loop = asyncio.get_running_loop()
        state = self._loops.get(loop)
        if state is None:
            with self._lock:
                for old in [lp for lp in self._loops if lp.is_closed()]:
                    del self._loops[old]  # its connections cannot be used (or awaited) any more
                state = self._loops.setdefault(loop, LoopState())
        return state

    def _async_client(self, state: LoopState, text: bool) -> AsyncRedis[Any]:
        found = state.clients.get(text)
        if found is None:
            if self.settings.cluster:
                built = cluster.build_async_client(self.settings, text)
                found = state.clients[text] = cast("AsyncRedis[Any]", built)
            else:
                pool = pools.build_async_pool(self.settings, decode=text)
                found = state.clients[text] = redis.asyncio.Redis(connection_pool=pool)
        return found

    def async_node_client(self, node: str, text: bool = False) -> AsyncRedis[Any]:
        """On a cluster, the running loop's client of one node (``host:port``)."""
        state = self.loop_state()
        found = state.nodes.get((node, text))
        if found is None:
            host, _, port = node.rpartition(":")
            where = {"url": None, "host": host, "port": int(port), "cluster": False}
            pool = pools.build_async_pool(self.settings.model_copy(update=where), text)
            found = state.nodes[(node, text)] = redis.asyncio.Redis(connection_pool=pool)
        return found

    def async_client_nowait(self, text: bool = False) -> AsyncRedis[Any]:
        """The running loop's asyncio client, without waiting for the server."""
        return self._async_client(self.loop_state(), text)

    async def async_client(self, text: bool = False) -> AsyncRedis[Any]:
        """The running loop's asyncio client; the loop's first waits for the server."""
        state = self.loop_state()
        if not state.ready:
            async with state.lock:
                if not state.ready:
                    settings = self.settings
                    await readiness.aensure_ready(settings, settings.startup_wait)
                    state.ready = True
        return self._async_client(state, text)

    def async_script(self, script: LuaScript) -> AsyncScript:
        """A script of ``redis_client.core.scripts`` as redis-py's ``AsyncScript``, on the running
        loop's bytes client."""
        state = self.loop_state()
        found = state.scripts.get(script)
        if found is None:
            found = state.scripts[script] = self._async_client(state, False).register_script(script.text)
        return found

    def in_flight(self) -> asyncio.Semaphore:
        """The running loop's ``max_in_flight`` places: an operation holds one while it runs.

        With hundreds of tasks sending at once, every reply makes its task ready in the same
        turn of the loop, and one turn then costs hundreds of tasks' client work; the others
        (a health check, a ticker) wait that long. Waiting for a place keeps each turn short.
        """
        state = self.loop_state()
        if state.gate is None:
            state.gate = asyncio.Semaphore(self.settings.max_in_flight)
        return state.gate

    async def aclose(self) -> None:
        """Close the running loop's connections; a later command opens new ones."""
        self._check_pid()
        state = self._loops.pop(asyncio.get_running_loop(), None)
        if state is not None:
            for client in state.clients.values():
                if self.settings.cluster:
                    await cast(Any, client).aclose()
                else:
                    await client.connection_pool.disconnect()
            for node in state.nodes.values():
                await node.connection_pool.disconnect()

    # --- what the server can do (per process, for both APIs) ---

    def remember(self, capabilities: Capabilities) -> None:
        self.capabilities = capabilities
        if not capabilities.models and not self._warned:
            self._warned = True
            log.warning(
                "Redis at %s %s: model records are not written, "
                "classic methods work on the legacy keys only",
                self.describe(),
                capabilities.problem(),
            )

    def forget_indexes(self) -> None:
        self.indexes_ready = False
        self.index_plan = {}

    def index_names(self, name: str, primaries: list[str]) -> list[str] | None:
        """The names to query for the index ``name`` (see ``protocol.Indexes``); None when the
        primaries changed since the indexes were made ready (they must be made ready again)."""
        plan = self.index_plan.get(name)
        if not self.clustered or not plan:
            return [name]
        if sorted(plan) != primaries:
            return None
        return [plan[node] for node in primaries]

    def __reduce__(self) -> tuple[Any, ...]:
        return (Connector, (self._settings,))

    def __repr__(self) -> str:
        return f"<Connector {self.describe()}>"


_shared = Connector()


def shared() -> Connector:
    """The process's default connector: the shared ``db`` of both APIs and the models use it."""
    return _shared
