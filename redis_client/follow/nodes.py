"""Keyspace notifications from every primary: a listener each, its probe, the topology followed.

On one server, or behind Sentinel, there is one listener, on the project's client (Sentinel's
follows the master). On a Redis Cluster notifications are per node: every primary gets its own
listener, on a client of its own (redis-py's cluster client reconnects its node pools when it
reloads its slot map, which would cut a subscription), notifications are turned on on each
(CONFIG SET where allowed), and each has its own probe key, in a slot it serves
(``redis_client_om:follow:probe{<tag>}``). Every ``TOPOLOGY_CHECK`` seconds the slot map is read
(CLUSTER SLOTS): when a primary failed over, slots moved or a node came in, the listeners follow
the primaries of now and the cluster client reloads its map; the follower then checks the
notifications and passes again, as after a reconnection (some may have been lost meanwhile).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.exceptions import AskError, MovedError, ReadOnlyError, RedisClusterException

from ..core import codec, keys, pools, slots
from ..core.connector import Connector
from ..core.errors import ServerUnavailableError
from ..core.settings import RedisSettings
from . import events
from .pending import Pending
from .stats import FollowStats

log = logging.getLogger("redis_client.follow")

#: Seconds between two reads of a cluster's slot map.
TOPOLOGY_CHECK = 1.0
#: Each primary (``host:port``) with the slot ranges it serves.
Shape = dict[str, tuple[tuple[int, int], ...]]
_DOWN = (redis.ConnectionError, redis.TimeoutError)


class Listeners:
    """The listeners of the primaries followed now (one: ``None``, on one server)."""

    def __init__(
        self, connector: Connector, pending: Pending, stats: FollowStats, on_subscribed: Callable[[], None]
    ) -> None:
        self.connector = connector
        self.pending = pending
        self.stats = stats
        self.on_subscribed = on_subscribed
        self.nodes: dict[str | None, events.Listener] = {}
        self._retired: list[events.Listener] = []
        #: The clients of the primaries' listeners (disconnected once these have stopped).
        self._own: list[redis.Redis[Any]] = []
        self._shape: Shape = {}
        self._next_check = 0.0

    def start(self) -> None:
        """A listener on the server, or on every primary of the cluster."""
        if not self.connector.clustered:
            self._add(None, keys.FOLLOW_PROBE, self.connector.client())
            return
        shape = self._read_shape()
        if shape is None:
            raise ServerUnavailableError("no node of the cluster answers CLUSTER SLOTS")
        self._follow(shape)
        self._next_check = time.monotonic() + TOPOLOGY_CHECK

    def wait_subscribed(self, timeout: float) -> None:
        """Wait (up to ``timeout``) until every listener subscribed, or was refused."""
        deadline = time.monotonic() + timeout
        for listener in list(self.nodes.values()):
            listener.subscribed.wait(max(0.0, deadline - time.monotonic()))

    def watch(self) -> bool:
        """On a cluster, every ``TOPOLOGY_CHECK`` seconds: whether its primaries or their slots
        changed; if so, the listeners now follow the primaries of now (new ones not yet subscribed)."""
        if not self.connector.clustered or time.monotonic() < self._next_check:
            return False
        self._next_check = time.monotonic() + TOPOLOGY_CHECK
        shape = self._read_shape()
        if shape is None or shape == self._shape:
            return False
        log.info("follow: the cluster changed (%d primaries now): following its primaries", len(shape))
        with contextlib.suppress(RedisClusterException, redis.RedisError):  # the driver's routing
            self.connector.client().nodes_manager.initialize()  # type: ignore[attr-defined]
        self._follow(shape)
        return True

    def check(self, configure: bool, timeout: float) -> str | None:
        """Turn notifications on where allowed, on every primary; do they arrive (each probe's
        notifications come back within ``timeout``)? None when they do, else why not."""
        problems: dict[str | None, str] = {}
        setups = {}
        for name, listener in self.nodes.items():
            setups[name] = events.enable_notifications(listener.client, configure)
            if listener.refused:
                problems[name] = f"this user may not subscribe ({listener.refused})"
        probed = [name for name in self.nodes if name not in problems]
        arrived = self._probe(probed, timeout)
        for name in probed:
            if not arrived.get(name):
                problems[name] = setups[name].problem or "notifications do not arrive"
        if not problems:
            return None
        name, problem = next(iter(problems.items()))
        if name is None:
            return problem
        others = f" (and on {len(problems) - 1} other primaries)" if len(problems) > 1 else ""
        return f"on the primary {name}: {problem}{others}"

    def _probe(self, names: list[str | None], timeout: float) -> dict[str | None, bool]:
        """Write each probe key (each class once); whether each one's notifications arrived."""
        written = []
        for name in names:
            listener = self.nodes[name]
            if not listener.is_alive():
                continue
            listener.probe_events.clear()
            listener.probe_seen.clear()
            pipe = listener.client.pipeline(transaction=False)
            events.probe_commands(pipe, listener.probe_key.decode())
            try:
                pipe.execute()
            except (MovedError, AskError, ReadOnlyError):  # slot moved, or a replica now: map read again
                self._next_check = 0.0
                continue
            written.append(name)
        deadline = time.monotonic() + timeout
        return {name: _arrived(self.nodes[name], deadline) for name in written}

    def stop(self) -> None:
        """Stop every listener (each woken by a write of its probe key) and wait for them."""
        listeners = [*self.nodes.values(), *self._retired]
        for listener in listeners:
            listener.stop.set()
        for listener in self.nodes.values():
            with contextlib.suppress(*_DOWN, redis.ResponseError):  # a notification wakes it at once
                key = listener.probe_key.decode()
                listener.client.delete(key)
                listener.client.set(key, b"1", px=1000)
        for listener in listeners:
            listener.join(5)
        for client in self._own:
            with contextlib.suppress(Exception):  # closing broken connections
                client.connection_pool.disconnect()
        self.nodes.clear()
        self._retired.clear()
        self._own.clear()

    # --- a cluster's primaries ---

    def _add(self, name: str | None, probe_key: str, client: redis.Redis[Any]) -> None:
        listener = events.Listener(
            client, self.connector.database, self.pending, self.stats, self.on_subscribed,
            probe_key=probe_key, cluster=name is not None,
        )
        self.nodes[name] = listener
        listener.start()

    def _follow(self, shape: Shape) -> None:
        wanted = {name: probe_key(ranges) for name, ranges in shape.items()}
        for name in [n for n in self.nodes if n not in wanted]:
            listener = self.nodes.pop(name)
            listener.stop.set()  # ends within a second (its reads time out)
            self._retired.append(listener)
        for name, key in wanted.items():
            found = self.nodes.get(name)
            if found is None:
                client = node_client(self.connector.settings, name)
                self._own.append(client)
                self._add(name, key, client)
            else:
                found.probe_key = key.encode()  # the slot of its old probe key moved away
        self._shape = shape

    def _read_shape(self) -> Shape | None:
        """The slot map as a node of the cluster sees it (the first that answers)."""
        for client, host in self._askable():
            try:
                reply = client.execute_command("CLUSTER", "SLOTS")
            except (redis.RedisError, OSError):
                continue
            return shape_of(reply, host)
        return None

    def _askable(self) -> Iterator[tuple[Any, str]]:
        """Clients of nodes to ask: the followed primaries (those whose connection is up
        first), then every node the cluster client knows."""
        followed = sorted(self.nodes.items(), key=lambda item: item[1].failing)
        for name, listener in followed:
            yield listener.client, str(name).rpartition(":")[0]
        cluster: Any = self.connector.client()
        for node in cluster.get_nodes():
            if node.redis_connection is not None:
                yield node.redis_connection, node.host


def _arrived(listener: events.Listener, deadline: float) -> bool:
    """Whether the probe's notifications (each class once) came back before ``deadline``."""
    while not all(e in listener.probe_events for e in events.PROBE_EVENTS):
        left = deadline - time.monotonic()
        if left <= 0 or not listener.probe_seen.wait(left):
            return False
        listener.probe_seen.clear()
    return True


def probe_key(ranges: tuple[tuple[int, int], ...]) -> str:
    """The probe key of the primary serving ``ranges``: tagged with its highest slot (resharding
    tools move the lowest slots first)."""
    return f"{keys.FOLLOW_PROBE}{{{slots.tag_for_slot(max(last for _, last in ranges))}}}"


def shape_of(reply: Any, asked_host: str) -> Shape:
    """Each primary of a ``CLUSTER SLOTS`` reply with its slot ranges (an empty host is the
    asked node's)."""
    owned: dict[str, list[tuple[int, int]]] = {}
    for entry in reply:
        first, last, primary = int(entry[0]), int(entry[1]), entry[2]
        host = codec.text(primary[0]) or asked_host
        owned.setdefault(f"{host}:{int(primary[1])}", []).append((first, last))
    return {name: tuple(sorted(ranges)) for name, ranges in owned.items()}


def node_settings(settings: RedisSettings, name: str) -> RedisSettings:
    """``settings`` for a plain client of one node (``host:port``) of the cluster: the same
    credentials, TLS and timeouts."""
    host, _, port = name.rpartition(":")
    update: dict[str, Any] = {"cluster": False, "host": host, "port": int(port), "db": 0}
    if settings.url:
        parts = urlsplit(settings.url)
        userinfo = parts.netloc.rpartition("@")[0]
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        update["url"] = parts._replace(netloc=f"{userinfo}@{where}" if userinfo else where).geturl()
    return settings.model_copy(update=update)


def node_client(settings: RedisSettings, name: str) -> redis.Redis[Any]:
    """A plain client of one node, on a pool of its own."""
    return redis.Redis(connection_pool=pools.build_pool(node_settings(settings, name), decode=False))


def ping_primaries(connector: Connector) -> None:
    """Raise an outage error unless the server (on a cluster: every primary) answers."""
    client: Any = connector.client()
    if not connector.clustered:
        client.ping()
        return
    try:
        client.nodes_manager.initialize()
    except RedisClusterException as exc:
        raise ServerUnavailableError(f"no node of the cluster answers ({exc})") from exc
    for node in client.get_primaries():
        client.get_redis_connection(node).ping()
