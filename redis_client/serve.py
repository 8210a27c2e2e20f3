"""``redis-client server``: one embedded Redis, a sentinel set or a cluster, in the foreground.

Runs until SIGTERM/SIGINT, then stops every process it started. ``announce`` gets the lines a
user needs: where it listens and the settings to export.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Protocol

import redis

from .core.errors import EmbeddedServerError
from .embedded import EmbeddedRedis
from .embedded_cluster import EmbeddedCluster
from .embedded_sentinel import EmbeddedSentinelSet

log = logging.getLogger(__name__)


class _Topology(Protocol):
    def stop(self) -> None: ...


def serve_forever(
    port: int | None,
    data_dir: str | None,
    announce: Callable[[str], None] = log.info,
    *,
    replicas: int = 0,
    sentinels: int = 0,
    cluster: int = 0,
) -> int:
    """Run the servers until SIGTERM/SIGINT; return the exit code (1: a process died).

    ``sentinels``: a master, ``replicas`` replicas and that many sentinels; ``cluster``: that
    many primaries with ``replicas`` replicas each; neither: one server. Must be called from the
    main thread (it installs signal handlers).
    """
    if sentinels and cluster:
        raise EmbeddedServerError("--sentinels and --cluster cannot be used together")
    if replicas and not (sentinels or cluster):
        raise EmbeddedServerError("--replicas needs --sentinels N or --cluster N")
    if port is not None and (sentinels or cluster):
        raise EmbeddedServerError("--port applies to one server; a set or cluster picks free ports")
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    running: _Topology | None = None
    try:
        processes: list[EmbeddedRedis]
        if sentinels:
            ha = EmbeddedSentinelSet(replicas, sentinels, data_dir=data_dir)
            running = ha.start()
            processes = [*ha.nodes, *ha.sentinels]
            lines = [
                f"redis-client: master {ha.nodes[0].url}, {replicas} replica(s), {sentinels} sentinel(s) "
                f"(down-after {ha.down_after_ms} ms) with search+JSON (data: {ha.data_dir})",
                *(f"export {name}={value}" for name, value in ha.settings_env().items()),
            ]
        elif cluster:
            nodes = EmbeddedCluster(cluster, replicas, data_dir=data_dir)
            running = nodes.start()
            processes = nodes.nodes
            lines = [
                f"redis-client: cluster of {cluster} primaries, {replicas} replica(s) each, with "
                f"search+JSON; seed {nodes.url} (data: {nodes.data_dir})",
                *(f"export {name}={value}" for name, value in nodes.settings_env().items()),
            ]
        else:
            server = EmbeddedRedis(port, data_dir)
            running = server.start()
            processes = [server]
            lines = [f"redis-client: embedded Redis {_version(server)} with search+JSON listening on "
                     f"{server.url} (data: {server.data_dir})"]
        for line in lines:
            announce(line)
        while not stopping.wait(0.5):
            for process in processes:
                if not process.running:
                    log.error("Embedded Redis exited unexpectedly:\n%s", process.log_tail())
                    return 1
        return 0
    finally:
        if running is not None:
            running.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _version(server: EmbeddedRedis) -> str:
    client = redis.Redis.from_url(server.url, decode_responses=True)
    try:
        return str(client.info("server")["redis_version"])
    finally:
        client.close()

