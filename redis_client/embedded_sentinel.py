"""A local high-availability set from the embedded binaries: a master, replicas and sentinels.

For the project's tests and for users who want to try a failover: every node is an
:class:`~redis_client.embedded.EmbeddedRedis` (the data nodes with the search and JSON modules),
the sentinels are the same ``redis-server`` binary run with ``--sentinel``. ``settings_env()``
gives the ``REDIS_*`` variables that point the project at the set.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from .core.errors import EmbeddedServerError
from .embedded import EmbeddedRedis, find_binaries, free_ports

log = logging.getLogger(__name__)

#: Sentinel timing of the local set: a master unreachable this long is subjectively down.
DOWN_AFTER_MS = 2000
FAILOVER_TIMEOUT_MS = 10_000
#: Data nodes: a replica's full sync starts at once (Redis waits 5 s for more replicas by default).
NODE_ARGS = ("--repl-diskless-sync-delay", "0")


class EmbeddedSentinel(EmbeddedRedis):
    """One ``redis-server --sentinel`` process (its config file lives in its data directory)."""

    def __init__(self, config: str, data_dir: Path, host: str = "127.0.0.1", port: int | None = None) -> None:
        super().__init__(port, data_dir=data_dir, modules=False, host=host)
        self._config = config

    def _command(self, server: str, module_paths: list[str]) -> list[str]:
        path = self.data_dir / "sentinel.conf"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not path.exists():  # a restart keeps what the sentinel learnt (it rewrites its file)
            path.write_text(f"port {self.port}\nbind {self.host}\ndir {self.data_dir}\n{self._config}")
        return [server, str(path), "--sentinel", "--port", str(self.port), "--logfile", ""]


class EmbeddedSentinelSet:
    """A master, ``replicas`` replicas and ``sentinels`` sentinels (quorum: a majority).

    ``data_dir=None`` uses a temporary directory removed by ``stop()``.
    """

    def __init__(
        self,
        replicas: int = 1,
        sentinels: int = 3,
        *,
        master_name: str = "mymaster",
        data_dir: str | Path | None = None,
        down_after_ms: int = DOWN_AFTER_MS,
        failover_timeout_ms: int = FAILOVER_TIMEOUT_MS,
        host: str = "127.0.0.1",
    ) -> None:
        if replicas < 0 or sentinels < 1:
            raise EmbeddedServerError("a sentinel set needs at least one sentinel and no negative replicas")
        self.master_name = master_name
        self.host = host
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self._given_dir = Path(data_dir).resolve() if data_dir is not None else None
        self._tmp_dir: Path | None = None
        self._replicas = replicas
        self._sentinel_count = sentinels
        #: Every data node, the first one started as the master (which one is master changes).
        self.nodes: list[EmbeddedRedis] = []
        self.sentinels: list[EmbeddedSentinel] = []

    @property
    def data_dir(self) -> Path:
        path = self._given_dir or self._tmp_dir
        if path is None:
            raise EmbeddedServerError("The temporary data dir is made by start(); not started")
        return path

    @property
    def quorum(self) -> int:
        return self._sentinel_count // 2 + 1

    def start(self, timeout: float = 30.0) -> EmbeddedSentinelSet:
        """Start the nodes and sentinels; return once the sentinels know every node and each other."""
        find_binaries(True)
        if self._given_dir is None and self._tmp_dir is None:
            self._tmp_dir = Path(tempfile.mkdtemp(prefix="embedded-sentinel-"))
        try:
            master = EmbeddedRedis(data_dir=self.data_dir / "node-0", host=self.host, extra_args=NODE_ARGS)
            self.nodes = [master.start()]
            for i in range(1, self._replicas + 1):
                replica = EmbeddedRedis(
                    data_dir=self.data_dir / f"node-{i}",
                    host=self.host,
                    extra_args=[*NODE_ARGS, "--replicaof", self.host, str(master.port)],
                )
                self.nodes.append(replica.start())
            name = self.master_name
            config = (
                f"sentinel monitor {name} {self.host} {master.port} {self.quorum}\n"
                f"sentinel down-after-milliseconds {name} {self.down_after_ms}\n"
                f"sentinel failover-timeout {name} {self.failover_timeout_ms}\n"
                f"sentinel parallel-syncs {name} {max(self._replicas, 1)}\n"
            )
            # Each sentinel is told the others and the replicas up front: otherwise it learns
            # them from hello messages, every 2 s, and the set takes seconds to be usable.
            ports = free_ports(self._sentinel_count, self.host)
            ids = [secrets.token_hex(20) for _ in ports]
            known = "".join(f"sentinel known-replica {name} {self.host} {n.port}\n" for n in self.nodes[1:])
            self.sentinels = []
            for i, (port, own) in enumerate(zip(ports, ids, strict=True)):
                others = "".join(
                    f"sentinel known-sentinel {name} {self.host} {p} {theirs}\n"
                    for p, theirs in zip(ports, ids, strict=True)
                    if p != port
                )
                sentinel = EmbeddedSentinel(
                    f"sentinel myid {own}\n{config}{known}{others}", self.data_dir / f"sentinel-{i}",
                    self.host, port,
                )
                self.sentinels.append(sentinel)
                sentinel.start()
            self.wait_stable(timeout)
        except BaseException:
            self.stop()
            raise
        log.info("Embedded sentinel set: master %s, sentinels %s", self.nodes[0].url, self.sentinels_setting)
        return self

    # --- what the project is pointed at ---

    @property
    def sentinels_setting(self) -> str:
        """``REDIS_SENTINELS``: every sentinel's ``host:port``."""
        return ",".join(f"{s.host}:{s.port}" for s in self.sentinels)

    def settings_env(self) -> dict[str, str]:
        """The environment that points redis-client at this set."""
        return {"REDIS_SENTINELS": self.sentinels_setting, "REDIS_SENTINEL_MASTER": self.master_name}

    # --- state, as the sentinels see it ---

    def _sentinel_client(self, sentinel: EmbeddedSentinel) -> redis.Redis[str]:
        return redis.Redis(sentinel.host, sentinel.port, decode_responses=True, socket_timeout=2.0)

    def _ask(self, sentinel: EmbeddedSentinel, *command: Any) -> Any:
        client = self._sentinel_client(sentinel)
        try:
            return client.execute_command(*command)
        finally:
            client.close()

    def master_address(self) -> tuple[str, int] | None:
        """The master a majority of the running sentinels name, else None."""
        votes: dict[tuple[str, int], int] = {}
        for sentinel in self.sentinels:
            if not sentinel.running:
                continue
            try:
                host, port = self._ask(sentinel, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.master_name)
            except (redis.RedisError, TypeError, ValueError):
                continue
            votes[(host, int(port))] = votes.get((host, int(port)), 0) + 1
        for address, count in votes.items():
            if count >= self.quorum:
                return address
        return None

    def master(self) -> EmbeddedRedis:
        """The data node the sentinels name as master."""
        address = self.master_address()
        for node in self.nodes:
            if address is not None and node.port == address[1]:
                return node
        raise EmbeddedServerError(f"the sentinels name no known master (they say {address})")

    def replicas(self) -> list[EmbeddedRedis]:
        master = self.master()
        return [node for node in self.nodes if node is not master]

    def wait_stable(self, timeout: float = 30.0) -> None:
        """Wait until the sentinels agree on a master that runs, every running node replicates
        from it, and each sentinel sees every other sentinel and every running replica."""
        deadline = time.monotonic() + timeout
        problem: str | None = "not checked"
        while time.monotonic() < deadline:
            problem = self._unstable()
            if problem is None:
                return
            time.sleep(0.1)
        raise EmbeddedServerError(f"the sentinel set did not settle in {timeout:g}s: {problem}")

    def _unstable(self) -> str | None:
        try:
            master = self.master()
        except EmbeddedServerError as exc:
            return str(exc)
        if not master.running:
            return "the master the sentinels name is not running"
        running = [n for n in self.nodes if n.running and n is not master]
        for node in running:
            info = _info(node, "replication")
            if info.get("role") != "slave" or int(info.get("master_port", 0)) != master.port:
                return f"node {node.port} does not replicate from {master.port} yet"
            if info.get("master_link_status") != "up":
                return f"node {node.port}: replication link not up"
        ports = {n.port for n in running}
        for sentinel in self.sentinels:
            if not sentinel.running:
                continue
            state = dict(_pairs(self._ask(sentinel, "SENTINEL", "MASTER", self.master_name)))
            if int(state.get("num-other-sentinels", 0)) < self._running_sentinels() - 1:
                return f"sentinel {sentinel.port} does not see the others yet"
            seen = {
                int(dict(_pairs(r))["port"])
                for r in self._ask(sentinel, "SENTINEL", "REPLICAS", self.master_name)
                if "s_down" not in dict(_pairs(r)).get("flags", "")
            }
            if not ports <= seen:
                return f"sentinel {sentinel.port} does not see replicas {sorted(ports - seen)} yet"
        return None

    def _running_sentinels(self) -> int:
        return sum(1 for s in self.sentinels if s.running)

    # --- failures, for tests and trials ---

    def kill_master(self) -> EmbeddedRedis:
        """SIGKILL the current master (its data dir stays for a restart); returns it."""
        master = self.master()
        master.kill()
        return master

    def wait_for_new_master(self, old: EmbeddedRedis, timeout: float = 30.0) -> EmbeddedRedis:
        """Wait until the sentinels name a running master other than ``old``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            address = self.master_address()
            if address is not None and address[1] != old.port:
                node = self.master()
                if node.running:
                    return node
            time.sleep(0.05)
        raise EmbeddedServerError(f"no new master within {timeout:g}s")

    def failover(self) -> None:
        """``SENTINEL FAILOVER``: a replica is promoted and the master demoted, without a crash."""
        for sentinel in self.sentinels:
            if sentinel.running:
                self._ask(sentinel, "SENTINEL", "FAILOVER", self.master_name)
                return
        raise EmbeddedServerError("no sentinel is running")

    def stop(self) -> None:
        for process in [*self.sentinels, *self.nodes]:
            process.stop()
        if self._tmp_dir is not None:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)
            self._tmp_dir = None

    def __enter__(self) -> EmbeddedSentinelSet:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _info(node: EmbeddedRedis, section: str) -> dict[str, Any]:
    client = redis.Redis(node.host, node.port, decode_responses=True, socket_timeout=2.0)
    try:
        return dict(client.info(section))
    except redis.RedisError:
        return {}
    finally:
        client.close()


def _pairs(reply: Any) -> list[tuple[str, str]]:
    """A sentinel reply (a flat list of names and values, or a dict under RESP3) as pairs."""
    if isinstance(reply, dict):
        return [(str(k), str(v)) for k, v in reply.items()]
    return [(str(reply[i]), str(reply[i + 1])) for i in range(0, len(reply) - 1, 2)]
