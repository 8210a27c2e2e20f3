"""A local Redis Cluster from the embedded binaries: primaries, optional replicas, slots spread evenly.

For the project's tests and for users who want to try a cluster. Every node is an
:class:`~redis_client.embedded.EmbeddedRedis` with the search and JSON modules, started with
``--cluster-enabled yes`` (and an explicit ``--cluster-port``); the slots are assigned and the
nodes introduced with plain cluster commands (no ``redis-cli`` needed). ``settings_env()`` gives
the ``REDIS_*`` variables that point the project at it.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from .core.errors import EmbeddedServerError
from .embedded import EmbeddedRedis, find_binaries, free_ports

log = logging.getLogger(__name__)

SLOTS = 16384
#: A primary unreachable this long is failed over to its replica.
NODE_TIMEOUT_MS = 2000


class EmbeddedCluster:
    """``primaries`` primaries with ``replicas`` replicas each. ``data_dir=None``: a temporary
    directory removed by ``stop()``."""

    def __init__(
        self,
        primaries: int = 3,
        replicas: int = 0,
        *,
        data_dir: str | Path | None = None,
        node_timeout_ms: int = NODE_TIMEOUT_MS,
        host: str = "127.0.0.1",
    ) -> None:
        if primaries < 1 or replicas < 0:
            raise EmbeddedServerError("a cluster needs at least one primary and no negative replicas")
        self.host = host
        self.node_timeout_ms = node_timeout_ms
        self._primaries = primaries
        self._replicas = replicas
        self._given_dir = Path(data_dir).resolve() if data_dir is not None else None
        self._tmp_dir: Path | None = None
        self.nodes: list[EmbeddedRedis] = []
        #: Each node's cluster bus port (CLUSTER MEET needs it when it is not port + 10000).
        self.bus_ports: dict[int, int] = {}

    @property
    def data_dir(self) -> Path:
        path = self._given_dir or self._tmp_dir
        if path is None:
            raise EmbeddedServerError("The temporary data dir is made by start(); not started")
        return path

    def _node(self, index: int, port: int, bus: int) -> EmbeddedRedis:
        self.bus_ports[port] = bus
        args = [
            "--cluster-enabled", "yes",
            "--cluster-port", str(bus),
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(self.node_timeout_ms),
            "--cluster-require-full-coverage", "no",
            "--cluster-allow-reads-when-down", "no",
            "--repl-diskless-sync-delay", "0",
        ]
        return EmbeddedRedis(port, self.data_dir / f"node-{index}", host=self.host, extra_args=args)

    def start(self, timeout: float = 30.0) -> EmbeddedCluster:
        """Start every node, assign the slots, introduce the nodes, attach the replicas; return
        once every node sees the cluster as ``ok``."""
        find_binaries(True)
        if self._given_dir is None and self._tmp_dir is None:
            self._tmp_dir = Path(tempfile.mkdtemp(prefix="embedded-cluster-"))
        total = self._primaries * (1 + self._replicas)
        try:
            ports = free_ports(2 * total, self.host)
            self.nodes = [self._node(i, ports[2 * i], ports[2 * i + 1]) for i in range(total)]
            for node in self.nodes:
                node.start()
            if not self._already_formed():  # a kept data dir: the nodes remember their cluster
                self._form()
            self.wait_ok(timeout)
        except BaseException:
            self.stop()
            raise
        log.info("Embedded cluster: %d primaries, %d replicas each, seed %s",
                 self._primaries, self._replicas, self.url)
        return self

    def _already_formed(self) -> bool:
        return int(_call(self.nodes[0], "CLUSTER", "INFO").get("cluster_slots_assigned", 0)) > 0

    def _form(self) -> None:
        primaries = self.nodes[: self._primaries]
        per = SLOTS // len(primaries)
        for i, node in enumerate(primaries):
            first = i * per
            last = SLOTS - 1 if i == len(primaries) - 1 else first + per - 1
            _call(node, "CLUSTER", "ADDSLOTSRANGE", first, last)
        seed = self.nodes[0]
        for node in self.nodes[1:]:
            _call(node, "CLUSTER", "MEET", seed.host, seed.port, self.bus_ports[seed.port])
        self._wait(lambda: all(len(_nodes(n)) == len(self.nodes) for n in self.nodes), 20,
                   "the nodes to meet")
        ids = [_call(n, "CLUSTER", "MYID") for n in primaries]
        for k, replica in enumerate(self.nodes[self._primaries :]):
            primary_id = ids[k % len(primaries)]
            self._wait(lambda r=replica, p=primary_id: p in _nodes(r), 20, "a replica to know its primary")
            _call(replica, "CLUSTER", "REPLICATE", primary_id)

    # --- what the project is pointed at ---

    @property
    def url(self) -> str:
        """Any node's URL: the client discovers the others."""
        return self.nodes[0].url

    def settings_env(self) -> dict[str, str]:
        return {"REDIS_CLUSTER": "true", "REDIS_URL": self.url}

    # --- state ---

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Wait until every running node reports ``cluster_state:ok``, agrees on who owns every
        slot, and every running replica's link to its primary is up."""
        self._wait(self._settled, timeout, "the cluster to settle")

    def _settled(self) -> bool:
        running = [n for n in self.nodes if n.running]
        views = set()
        for node in running:
            if _call(node, "CLUSTER", "INFO").get("cluster_state") != "ok":
                return False
            views.add(tuple(sorted((s[0], s[1], s[2][1]) for s in _call(node, "CLUSTER", "SLOTS"))))
            info = _info(node)
            if info.get("role") == "slave" and info.get("master_link_status") != "up":
                return False
        return len(views) == 1

    def primaries(self) -> list[EmbeddedRedis]:
        """The running nodes that serve slots now."""
        return [n for n in self.nodes if n.running and _info(n).get("role") == "master" and _owns_slots(n)]

    def replicas_of(self, primary: EmbeddedRedis) -> list[EmbeddedRedis]:
        primary_id = _call(primary, "CLUSTER", "MYID")
        return [
            n for n in self.nodes
            if n.running and n is not primary and _info(n).get("role") == "slave"
            and _replica_of(n) == primary_id
        ]

    def node_for_slot(self, slot: int) -> EmbeddedRedis:
        for first, last, owner, *_ in _call(self.nodes_running()[0], "CLUSTER", "SLOTS"):
            if first <= slot <= last:
                return next(n for n in self.nodes if n.port == int(owner[1]))
        raise EmbeddedServerError(f"no node serves slot {slot}")

    def nodes_running(self) -> list[EmbeddedRedis]:
        return [n for n in self.nodes if n.running]

    # --- failures and changes, for tests and trials ---

    def kill_primary(self, primary: EmbeddedRedis) -> None:
        """SIGKILL a primary (its data dir stays for a restart)."""
        primary.kill()

    def wait_for_promotion(self, old: EmbeddedRedis, timeout: float = 30.0) -> EmbeddedRedis:
        """Wait until another node serves the slots ``old`` served (its replica, promoted)."""
        slot = self._first_slot_of(old)
        found: list[EmbeddedRedis] = []

        def promoted() -> bool:
            node = self.node_for_slot(slot)
            if node is not old and node.running:
                found.append(node)
                return True
            return False

        self._wait(promoted, timeout, "a replica to be promoted")
        self.wait_ok(timeout)
        return found[0]

    def _first_slot_of(self, node: EmbeddedRedis) -> int:
        for first, _last, owner, *_ in _call(self.nodes_running()[0], "CLUSTER", "SLOTS"):
            if int(owner[1]) == node.port:
                return int(first)
        raise EmbeddedServerError(f"node {node.port} serves no slot")

    def move_slots(self, slots: range, target: EmbeddedRedis, batch: int = 100) -> int:
        """Move ``slots`` to ``target`` with their keys (``CLUSTER SETSLOT`` + ``MIGRATE``), as
        ``redis-cli --cluster reshard`` does; returns the number of keys moved."""
        target_id = _call(target, "CLUSTER", "MYID")
        moved = 0
        for slot in slots:
            source = self.node_for_slot(slot)
            if source.port == target.port:
                continue
            source_id = _call(source, "CLUSTER", "MYID")
            _call(target, "CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
            _call(source, "CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
            while True:
                names = _call(source, "CLUSTER", "GETKEYSINSLOT", slot, batch)
                if not names:
                    break
                _call(source, "MIGRATE", target.host, target.port, "", 0, 5000, "KEYS", *names)
                moved += len(names)
            for node in self.nodes_running():
                if _info(node).get("role") == "master":
                    _call(node, "CLUSTER", "SETSLOT", slot, "NODE", target_id)
        return moved

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        if self._tmp_dir is not None:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)
            self._tmp_dir = None

    def __enter__(self) -> EmbeddedCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @staticmethod
    def _wait(check: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except redis.RedisError:
                pass
            time.sleep(0.05)
        raise EmbeddedServerError(f"timed out after {timeout:g}s waiting for {what}")


_clients: dict[tuple[str, int, int | None], redis.Redis[str]] = {}


def _client(node: EmbeddedRedis) -> redis.Redis[str]:
    """A client of ``node`` kept for its process (a restarted node gets a new one)."""
    key = (node.host, node.port, node.pid)
    found = _clients.get(key)
    if found is None:
        found = _clients[key] = redis.Redis(node.host, node.port, decode_responses=True, socket_timeout=5)
    return found


def _call(node: EmbeddedRedis, *command: Any) -> Any:
    reply = _client(node).execute_command(*command)
    if command[:2] == ("CLUSTER", "INFO") and isinstance(reply, str):
        return dict(line.split(":", 1) for line in reply.splitlines() if ":" in line)
    return reply


def _info(node: EmbeddedRedis) -> dict[str, Any]:
    try:
        return dict(_client(node).info("replication"))
    except redis.RedisError:
        return {}


def _nodes(node: EmbeddedRedis) -> list[str]:
    """The node ids ``node`` knows."""
    return [line.split()[0] for line in str(_call(node, "CLUSTER", "NODES")).splitlines() if line.strip()]


def _myself(node: EmbeddedRedis) -> list[str]:
    """``node``'s own line of ``CLUSTER NODES``, split."""
    for line in str(_call(node, "CLUSTER", "NODES")).splitlines():
        parts = line.split()
        if "myself" in parts[2]:
            return parts
    return []


def _replica_of(node: EmbeddedRedis) -> str | None:
    parts = _myself(node)
    return parts[3] if len(parts) > 3 and parts[3] != "-" else None


def _owns_slots(node: EmbeddedRedis) -> bool:
    return len(_myself(node)) > 8
