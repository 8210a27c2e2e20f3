"""``redis-client server``: a master with replicas and sentinels, or a cluster, from the command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from redis_client.core.settings import load_settings
from redis_client.db import RedisDB

ROOT = Path(__file__).resolve().parents[1]


def _serve(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "redis_client", "server", *args], cwd=ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def _exports(proc: subprocess.Popen[str], count: int) -> dict[str, str]:
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith("redis-client: "), first
    assert "temporary data, deleted on stop" in first
    found = {}
    for _ in range(count):
        line = proc.stdout.readline().strip()
        name, _, value = line.removeprefix("export ").partition("=")
        found[name] = value
    return found


@pytest.mark.parametrize(
    ("args", "exports"),
    [(["--sentinels", "3", "--replicas", "1"], 2), (["--cluster", "3"], 2)],
    ids=["sentinel", "cluster"],
)
def test_the_server_command_starts_a_topology_and_prints_its_settings(
    args: list[str], exports: int
) -> None:
    proc = _serve(*args)
    try:
        env = _exports(proc, exports)
        children = psutil.Process(proc.pid).children(recursive=True)
        expected = 1 + 1 + 3 if "--sentinels" in args else 3
        assert len(children) == expected
        if "REDIS_SENTINELS" in env:
            settings = load_settings(sentinels=env["REDIS_SENTINELS"],
                                     sentinel_master=env["REDIS_SENTINEL_MASTER"])
            db = RedisDB(settings)
            db.set("served", 1)
            assert db.get("served") == 1
        else:
            assert env["REDIS_CLUSTER"] == "true" and env["REDIS_URL"].startswith("redis://127.0.0.1:")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--replicas", "1"], "--replicas needs --sentinels N or --cluster N"),
        (["--sentinels", "3", "--cluster", "3"], "cannot be used together"),
        (["--sentinels", "0"], "--sentinels"),
        (["--cluster", "3", "--port", "7000"], "--port applies to one server"),
    ],
)
def test_bad_topology_arguments_are_one_line(args: list[str], says: str) -> None:
    done = subprocess.run([sys.executable, "-m", "redis_client", "server", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert done.returncode == 2, done.stderr
    assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith("redis-client server: error:")
