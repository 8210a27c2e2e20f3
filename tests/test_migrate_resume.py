"""Resumable: SIGKILLed at random moments, a rerun finishes with every record exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
import redis
from legacy_data import ROOT, applied, assert_posts_exact, run_cli, seed

from redis_client.core import keys

POSTS = 50_000


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "redis_client", "migrate", "run", *args],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
        env=dict(os.environ),
    )


def _processed(client: redis.Redis) -> int:
    return int(client.hget(keys.migration_checkpoint("0002_posts"), "processed") or 0)


@pytest.mark.parametrize(
    ("posts", "kill_count"),
    [(POSTS, 3), pytest.param(300_000, 10, marks=pytest.mark.soak)],
    ids=["50k-3-kills", "300k-10-kills"],
)
def test_sigkills_then_a_clean_finish(raw: redis.Redis, posts: int, kill_count: int) -> None:
    seeded = seed(raw, posts=posts, accounts=48, bad_members=30)
    total = seeded.valid_posts + seeded.bad_members
    rng_seed = int(os.environ.get("MIGRATE_KILL_SEED", time.time_ns() % 10_000))
    rng = random.Random(rng_seed)
    thresholds = sorted(rng.uniform(0.03, 0.9) for _ in range(kill_count))
    kills, progress = 0, []
    for fraction in thresholds:
        proc = _start("--batch-size", str(rng.choice([250, 500, 1000])))
        while proc.poll() is None and _processed(raw) < fraction * total:
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.05))  # a random moment inside the batch cycle
        proc.send_signal(signal.SIGKILL)
        if proc.wait() == -signal.SIGKILL:
            kills += 1
        # A crash never leaves the migration marked applied while records are missing.
        if "0002_posts" in applied(raw):
            assert_posts_exact(raw, seeded)
        progress.append(_processed(raw))
    assert kills == kill_count, f"seed {rng_seed}: only {kills} kills landed"
    assert progress == sorted(progress), f"seed {rng_seed}: progress went back {progress}"
    assert progress[-1] > 0

    final = run_cli("run")
    assert final.returncode == 0, final.stderr
    assert applied(raw) == {"0001_indexes", "0002_posts", "0003_accounts"}
    assert_posts_exact(raw, seeded)  # every record exactly once, each account listed once
    verify = run_cli("verify")
    assert verify.returncode == 0, verify.stdout


def test_kills_at_random_times_in_any_phase(raw: redis.Redis) -> None:
    """Kills at random wall-clock moments: during start-up, indexes, posts, accounts or marking."""
    seeded = seed(raw, posts=6000, accounts=30)
    rng = random.Random(int(os.environ.get("MIGRATE_KILL_SEED", time.time_ns() % 10_000)))
    for _ in range(3):
        proc = _start("--batch-size", "100")
        time.sleep(rng.uniform(0.3, 2.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if "0002_posts" in applied(raw):
            assert_posts_exact(raw, seeded)
    assert run_cli("run").returncode == 0
    assert_posts_exact(raw, seeded)
    assert run_cli("verify").returncode == 0


def test_redis_crash_mid_run(tmp_path: object) -> None:
    """The server dies under the migration: the run fails (not applied), and after a restart
    (AOF) the next run resumes and finishes exactly."""
    from redis_client.embedded import EmbeddedRedis

    server = EmbeddedRedis(data_dir=str(tmp_path)).start()
    try:
        client = redis.Redis.from_url(server.url)
        seeded = seed(client, posts=30_000, accounts=30)
        env = {**os.environ, "REDIS_URL": server.url, "REDIS_STARTUP_WAIT": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "redis_client", "migrate", "run", "--batch-size", "200"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        while proc.poll() is None and _processed(client) < 5000:
            time.sleep(0.002)
        server.kill()
        out, err = proc.communicate(timeout=120)
        assert proc.returncode in (1, 2), out + err
        assert "Traceback" not in err
        server.start()
        client = redis.Redis.from_url(server.url)
        assert "0002_posts" not in applied(client)
        final = run_cli("run", env={"REDIS_URL": server.url})
        assert final.returncode == 0, final.stderr
        assert "resuming from checkpoint" in final.stderr
        assert_posts_exact(client, seeded)
        client.close()
    finally:
        server.stop()
