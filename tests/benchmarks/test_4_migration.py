"""Migration throughput and peak RSS for 100k and 1M legacy posts, and Ray vs one process.

The migration runs in a fresh child process, so its peak RSS (``ru_maxrss``) is its own, not
the benchmark process's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest

from redis_client.core import keys
from redis_client.models import Post

from . import _harness as h

pytestmark = pytest.mark.benchmark

#: The posts migration: reads the settings from the environment, returns the step's stats.
RUNNER = "redis_client.migrate.commands.run_step"
POSTS_PER_ACCOUNT = 1000

# The child: runs the migration against REDIS_URL and prints its time and peak RSS as JSON.
_CHILD = r"""
import importlib, json, logging, sys, time

def peak_rss_kb():
    # VmHWM is this process's own peak (reset by exec); ru_maxrss is not: after fork+exec it
    # still holds the forking parent's peak, here the benchmark process with its seeded posts.
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

module_name, name = sys.argv[1].rsplit(".", 1)
runner = getattr(importlib.import_module(module_name), name)
logging.basicConfig(level=logging.WARNING)
t0 = time.perf_counter()
stats = runner("0002_posts", fresh=True)
took = time.perf_counter() - t0
print(json.dumps({
    "seconds": took,
    "maxrss_kb": peak_rss_kb(),
    "items": getattr(stats, "items", None),
    "created": getattr(stats, "created", None),
    "skipped": getattr(stats, "skipped", None),
}))
"""


def _seed_legacy(bench: Any, total: int) -> int:
    """Legacy keys only: ``posted_tweets`` members and a ``twitter_data`` hash per account."""
    accounts = total // POSTS_PER_ACCOUNT

    def commands() -> Any:
        for a in range(accounts):
            user = f"bench_legacy_{a:05d}"
            yield from h.seed_account_commands(user, POSTS_PER_ACCOUNT, 1_600_000_000 + a, records=False)
            yield (
                "HSET",
                keys.twitter_data(user),
                "access_token",
                "enc:not-a-real-token",
                "refresh_token",
                "enc:not-a-real-token",
                "expires_at",
                "1700000000",
                "name",
                user,
                "username",
                user,
                "id",
                str(10_000 + a),
            )

    h.send_commands(bench.r, commands())
    return accounts


@pytest.mark.parametrize("total", [100_000, 1_000_000], ids=["100k", "1M"])
def test_migration_throughput(bench: Any, total: int) -> None:
    runner = RUNNER
    if total > 100_000 and h.QUICK:
        pytest.skip("BENCH_QUICK=1: the 1M case is skipped")
    bench.fresh()
    accounts = _seed_legacy(bench, total)
    mem0 = bench.r.info("memory")["used_memory"]

    env = dict(os.environ, REDIS_URL=bench.server.url)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, runner],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])

    # Gross correctness: one record per legacy post, legacy keys untouched.
    if result["created"] is not None:
        assert result["created"] == total, result
    indexed = h.index_num_docs(bench.r, Post._meta.index_name)
    assert indexed == total
    assert bench.r.zcard(keys.posted_tweets("bench_legacy_00000")) == POSTS_PER_ACCOUNT
    mem1 = bench.r.info("memory")["used_memory"]

    label = "100k" if total == 100_000 else f"{total // 1_000_000}M"
    h.record(
        h.Row(
            f"5. migrate {label} legacy posts ({accounts} accounts)",
            "posts/s",
            ours=total / result["seconds"],
            higher_is_better=True,
            target="report",
            note=(
                f"{runner}('0002_posts'); {result['seconds']:.1f}s in the runner, "
                f"{wall:.1f}s with process start; peak RSS {result['maxrss_kb'] / 1024:.0f} MB; "
                f"server memory +{(mem1 - mem0) / 2**20:.0f} MB"
            ),
        )
    )
    h.record(
        h.Row(
            f"5b. migrate {label}: peak RSS of the migrating process",
            "MB",
            ours=result["maxrss_kb"] / 1024,
            target="report",
        )
    )


#: Ray partitions of the Ray-vs-single-process comparison.
RAY_WORKERS = 2


def test_ray_partitioned_migration_vs_single_process(bench: Any) -> None:
    """The same 100k legacy posts migrated by one process, then by Ray tasks (records dropped
    in between); Ray's start-up is outside the timing, its scheduling of the tasks inside."""
    ray = pytest.importorskip("ray")
    from redis_client.core.settings import load_settings
    from redis_client.migrate import commands

    total = 100_000
    bench.fresh()
    _seed_legacy(bench, total)
    settings = load_settings(url=bench.server.url)

    single = commands.run_step("0002_posts", settings, fresh=True)
    assert single.created == total
    _drop_post_records(bench)

    ray.init(num_cpus=RAY_WORKERS, include_dashboard=False, log_to_driver=False)
    try:
        t0 = time.perf_counter()
        on_ray = commands.run_step("0002_posts", settings, workers=RAY_WORKERS, fresh=True)
        ray_seconds = time.perf_counter() - t0
    finally:
        ray.shutdown()
    assert on_ray.created == total
    assert h.index_num_docs(bench.r, Post._meta.index_name) == total

    h.record(
        h.Row(
            f"6. migrate 100k on Ray ({RAY_WORKERS} workers) vs one process",
            "posts/s",
            ours=total / ray_seconds,
            raw=total / single.seconds,
            higher_is_better=True,
            target="report (ratio = Ray / one process)",
            note=f"one process {single.seconds:.1f}s, Ray {ray_seconds:.1f}s",
        )
    )


def _drop_post_records(bench: Any) -> None:
    pattern = keys.model_pattern(keys.POST_PREFIX)
    batch = []
    for key in bench.r.scan_iter(match=pattern, count=5000):
        batch.append(key)
        if len(batch) >= 5000:
            bench.r.delete(*batch)
            batch.clear()
    if batch:
        bench.r.delete(*batch)
