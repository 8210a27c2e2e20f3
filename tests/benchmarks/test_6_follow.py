"""The follower (``redis-client sync``, issue 13): lag, catch-up after downtime, idle CPU.

6.1 Lag from a raw ``ZADD`` (one command per post, as an older agent writes) to the ``Post``
    record being there, under a sustained 2,000 writes/s over 100 accounts for ``SUSTAIN_S``
    seconds: ``WRITERS`` writer processes on a fixed schedule, the follower
    (``python -m redis_client sync``) in its own process, and this process polling the
    outstanding records every ``POLL_S`` (its resolution is part of the figure). 6.1b: a burst
    of 5,000 members written as fast as one pipelined client can, until the last record is there.
6.2 Catch-up: 100k legacy posts (100 accounts x 1,000) written while no follower ran, absorbed
    by ``redis-client sync --once`` (what ``sync`` does first on start) against
    ``redis-client migrate run`` on the same keyspace (the stable CLI of the migration), both
    processes timed whole, alternating, ``ROUNDS`` each, every record and all state dropped
    before each run. Also the cost of a pass when nothing changed.
6.3 Idle CPU of a following process and of a standing-by one over ``IDLE_S`` seconds.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import pytest
import redis

from redis_client.core import keys

from . import _harness as h

pytestmark = pytest.mark.benchmark

ACCOUNTS = 100
RATE = 2_000
SUSTAIN_S = float(os.environ.get("BENCH_FOLLOW_SUSTAIN_S", "20"))
BURST = 5_000
POLL_S = 0.005
CATCHUP_POSTS = 100_000
ROUNDS = int(os.environ.get("BENCH_FOLLOW_ROUNDS", "3"))
IDLE_S = 10.0
T0 = 1_650_000_000

_SYNC = [sys.executable, "-m", "redis_client", "sync", "--log-interval", "5"]


def _follower(bench: Any, *extra: str) -> subprocess.Popen[str]:
    env = dict(os.environ, REDIS_URL=bench.server.url)
    return subprocess.Popen(
        [*_SYNC, *extra], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


def _cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (0.0 without psutil)."""
    try:
        import psutil
    except ImportError:
        return 0.0
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def _wait_following(bench: Any, user: str = "bench_canary") -> None:
    """A canary post reaches its record: the follower is up and subscribed."""
    fields = h.post_fields(user, T0, 0)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        bench.r.zadd(keys.posted_tweets(user), {h.member_of(fields): T0})
        if bench.r.exists(h.record_key(fields["id"])):
            return
        time.sleep(0.05)
    raise AssertionError("the follower did not start following")


#: A legacy agent in its own process: one ZADD per post on a fixed schedule (``t_start`` + n /
#: RATE for its share of n), printing when each ZADD returned (CLOCK_MONOTONIC: system-wide).
_WRITER = r"""
import json, sys, time
import redis
from redis_client.core import keys
from redis_client.core.codec import post_member
url, k, w, rate, total, t_start, t0, accounts = sys.argv[1:]
k, w, total, t0, accounts = int(k), int(w), int(total), int(t0), int(accounts)
rate, t_start = float(rate), float(t_start)
r = redis.Redis.from_url(url)
done = []
for n in range(k, total, w):
    delay = t_start + n / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    user = f"bench_follow_{n % accounts:03d}"
    member = post_member({"id": f"lag-{n}", "text": f"post {n} of {user}: " + "just shipped " * 8,
                          "sender_username": user, "timestamp": t0 + n, "quoted_tweet_id": None,
                          "is_reply_to": None, "is_news_summary_tweet": False})
    r.zadd(keys.posted_tweets(user), {member: t0 + n})
    done.append(time.monotonic())
print(json.dumps(done))
"""
WRITERS = 4


def _poll(client: redis.Redis, waiting: dict[str, int], seen: dict[int, float]) -> None:
    """One round trip: which waiting records exist now (moved from ``waiting`` to ``seen``)."""
    if not waiting:
        return
    ids = list(waiting)
    pipe = client.pipeline(transaction=False)
    for post_id in ids:
        pipe.exists(h.record_key(post_id))
    now = time.monotonic()
    for post_id, there in zip(ids, pipe.execute(), strict=True):
        if there:
            seen[waiting.pop(post_id)] = now


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def test_lag_sustained_and_burst(bench: Any) -> None:
    bench.fresh()
    load0 = os.getloadavg()[0]
    proc = _follower(bench)
    checker = redis.Redis.from_url(bench.server.url)
    try:
        _wait_following(bench)
        total = int(RATE * SUSTAIN_S)
        t_start = time.monotonic() + 3.0  # the writers' interpreters start meanwhile
        env = dict(os.environ, REDIS_URL=bench.server.url)
        writers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _WRITER,
                    bench.server.url,
                    str(k),
                    str(WRITERS),
                    str(RATE),
                    str(total),
                    repr(t_start),
                    str(T0),
                    str(ACCOUNTS),
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for k in range(WRITERS)
        ]
        waiting: dict[str, int] = {}
        seen: dict[int, float] = {}
        due = 0
        cpu0 = _cpu(proc.pid)
        while len(seen) < total:
            now = time.monotonic()
            while due < total and t_start + due / RATE <= now:
                waiting[f"lag-{due}"] = due
                due += 1
            _poll(checker, waiting, seen)
            if now > t_start + SUSTAIN_S + 60:
                raise AssertionError(f"{total - len(seen)} records never appeared")
            time.sleep(POLL_S)
        written = [0.0] * total
        for k, writer in enumerate(writers):
            out, err = writer.communicate(timeout=60)
            assert writer.returncode == 0, err[-2000:]
            for i, at in enumerate(json.loads(out)):
                written[k + i * WRITERS] = at
        sustained = [seen[n] - written[n] for n in range(total)]
        achieved = total / (max(written) - t_start)
        follower_cpu = (_cpu(proc.pid) - cpu0) / (max(written) - t_start)

        users = [f"bench_follow_{a:03d}" for a in range(ACCOUNTS)]
        burst = [h.post_fields(users[n % ACCOUNTS], T0 + total + n, n, f"burst-{n}") for n in range(BURST)]
        t_burst = time.monotonic()
        for start in range(0, BURST, 100):
            pipe = bench.r.pipeline(transaction=False)
            for fields in burst[start : start + 100]:
                zkey = keys.posted_tweets(fields["sender_username"])
                pipe.zadd(zkey, {h.member_of(fields): fields["timestamp"]})
            pipe.execute()
        written_in = time.monotonic() - t_burst
        waiting = {f["id"]: n for n, f in enumerate(burst)}
        seen = {}
        deadline = time.monotonic() + 120
        while waiting and time.monotonic() < deadline:
            _poll(checker, waiting, seen)
            time.sleep(POLL_S)
        assert not waiting, f"{len(waiting)} burst records never appeared"
        absorbed = max(seen.values()) - t_burst
    finally:
        err = _stop(proc)
        checker.close()
    assert proc.returncode == 0, err[-2000:]
    assert h.index_num_docs(bench.r, "redis_client_om:post:index") == total + BURST + 1
    p50, p99 = _pct(sustained, 0.5), _pct(sustained, 0.99)
    h.DISTRIBUTIONS["follower_lag_ms"] = {
        "rate_per_s": RATE, "p50": p50 * 1000, "p99": p99 * 1000, "max": max(sustained) * 1000,
        "samples": [round(x * 1000, 3) for x in sustained],
    }
    load = f"load average {load0:.2f} at start, {os.getloadavg()[0]:.2f} at end"
    h.record(
        h.Row(
            f"6.1 follow: lag ZADD -> record, {RATE:,} writes/s for {SUSTAIN_S:g}s",
            "ms p99",
            key="follow.lag",
            ours=p99 * 1000,
            target="p99 <= 1000 ms",
            met=p99 <= 1.0,
            note=(
                f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {max(sustained) * 1000:.0f} ms over "
                f"{total:,} posts ({achieved:,.0f} writes/s achieved by {WRITERS} writer processes, one ZADD "
                f"per post, {ACCOUNTS} accounts); records polled every {POLL_S * 1000:.0f} ms; "
                f"follower process {follower_cpu * 100:.0f}% of a core meanwhile; {load}"
            ),
        )
    )
    h.record(
        h.Row(
            f"6.1b follow: burst of {BURST:,} ZADDs absorbed",
            "ms",
            ours=absorbed * 1000,
            target="report",
            note=f"written in {written_in * 1000:.0f} ms (pipelined, one client); the last record there "
            f"{absorbed * 1000:.0f} ms after the burst started",
        )
    )


# --- catch-up --------------------------------------------------------------------------------

#: Both as an operator runs them (the CLI is the stable interface): the wall time of each process.
_COMMANDS = {
    "follow": [sys.executable, "-m", "redis_client", "sync", "--once"],
    "migrate": [sys.executable, "-m", "redis_client", "migrate", "run"],
}


def _run(bench: Any, kind: str) -> tuple[float, str]:
    env = dict(os.environ, REDIS_URL=bench.server.url)
    t0 = time.perf_counter()
    proc = subprocess.run(_COMMANDS[kind], env=env, capture_output=True, text=True, timeout=1800)
    took = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return took, proc.stdout


def _reset(bench: Any) -> None:
    """No post record, no follower state, no migration state or record of applied migrations."""
    patterns = (
        keys.model_pattern(keys.POST_PREFIX),
        keys.escape_glob(keys.follower_state("")) + "*",
        keys.escape_glob(f"{keys.MODEL_NAMESPACE}:migration:") + "*",
    )
    for pattern in patterns:
        batch: list[bytes] = []
        for key in bench.r.scan_iter(match=pattern, count=5000):
            batch.append(key)
            if len(batch) >= 5000:
                bench.r.delete(*batch)
                batch.clear()
        if batch:
            bench.r.delete(*batch)
    bench.r.delete(keys.APPLIED_MIGRATIONS)


def test_catch_up_after_downtime_vs_migration(bench: Any) -> None:
    bench.fresh()
    per_account = CATCHUP_POSTS // ACCOUNTS

    def commands() -> Any:
        for a in range(ACCOUNTS):
            yield from h.seed_account_commands(f"bench_down_{a:03d}", per_account, T0 + a, records=False)

    h.send_commands(bench.r, commands())
    load0 = os.getloadavg()[0]
    times: dict[str, list[float]] = {"follow": [], "migrate": []}
    server: dict[str, list[float]] = {"follow": [], "migrate": []}
    for r in range(ROUNDS):
        for kind in ("follow", "migrate") if r % 2 == 0 else ("migrate", "follow"):
            _reset(bench)
            assert h.index_num_docs(bench.r, "redis_client_om:post:index") == 0
            server0 = h._server_cpu()
            took, out = _run(bench, kind)
            server[kind].append(h._server_cpu() - server0)
            if kind == "follow":
                assert f"{CATCHUP_POSTS} records created" in out, out
            assert h.index_num_docs(bench.r, "redis_client_om:post:index") == CATCHUP_POSTS, out
            times[kind].append(took)
    _run(bench, "follow")  # the follower's own state after the last migration run
    idle, out = _run(bench, "follow")  # nothing changed since: what a pass costs
    assert "0 reconciled" in out, out
    from redis_client.follow import Follower

    follower = Follower(bench.settings)
    follower.reconcile()  # connected, scripts loaded: the pass alone is timed below
    t_pass = time.perf_counter()
    assert follower.reconcile().keys_marked == 0
    pass_ms = (time.perf_counter() - t_pass) * 1000
    follow_rate = CATCHUP_POSTS / statistics.median(times["follow"])
    migrate_rate = CATCHUP_POSTS / statistics.median(times["migrate"])
    h.record(
        h.Row(
            f"6.2 follow: catch-up of {CATCHUP_POSTS // 1000}k posts written while down, vs the migration",
            "posts/s",
            ours=follow_rate,
            raw=migrate_rate,
            higher_is_better=True,
            target=">= migration (ratio >= 1.0)",
            met=follow_rate >= migrate_rate,
            note=(
                f"`sync --once` {', '.join(f'{t:.1f}' for t in times['follow'])} s; `migrate run` "
                f"{', '.join(f'{t:.1f}' for t in times['migrate'])} s (raw column); processes timed "
                f"whole (start-up included), alternating, records dropped between; server CPU per run "
                f"{statistics.median(server['follow']):.1f} s (sync) / "
                f"{statistics.median(server['migrate']):.1f} s (migrate); `sync --once` with "
                f"nothing changed: {idle:.2f} s (the pass alone, in process: {pass_ms:.0f} ms for "
                f"{ACCOUNTS} keys); load average {load0:.2f} at start, {os.getloadavg()[0]:.2f} at end"
            ),
        )
    )


# --- idle CPU --------------------------------------------------------------------------------


def test_idle_cpu(bench: Any) -> None:
    psutil = pytest.importorskip("psutil")
    bench.fresh()
    leader = _follower(bench)
    try:
        _wait_following(bench)
        standby = _follower(bench)
        try:
            time.sleep(3)  # started, standing by
            procs = {"following": psutil.Process(leader.pid), "standing by": psutil.Process(standby.pid)}
            before = {k: sum(p.cpu_times()[:2]) for k, p in procs.items()}
            server0 = h._server_cpu()
            time.sleep(IDLE_S)
            used = {k: sum(p.cpu_times()[:2]) - before[k] for k, p in procs.items()}
            server = h._server_cpu() - server0
        finally:
            _stop(standby)
    finally:
        _stop(leader)
    for name, seconds in used.items():
        h.record(
            h.Row(
                f"6.3 follow: idle CPU, {name}",
                "% of a core",
                ours=seconds / IDLE_S * 100,
                target="near zero (<= 1%)",
                met=seconds / IDLE_S <= 0.01,
                note=f"{seconds * 1000:.0f} ms CPU over {IDLE_S:g}s; server {server * 1000:.0f} ms meanwhile",
            )
        )
