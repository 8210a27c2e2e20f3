"""Pacing (issue 23): what one uncontended posting slot costs next to the single ``ZRANGE`` the
helper used to make, and whether 100 accounts x 4 agents add any wait to one another."""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio

from redis_client.aio import AsyncRedisDB
from redis_client.core import keys
from redis_client.core.drivers import SyncDriver
from redis_client.core.protocol import Call, Op
from redis_client.ops import pacing

from . import _harness as h

pytestmark = pytest.mark.benchmark

CALLS = 2000
ROUNDS = 7
AGENT = Path(__file__).with_name("_pacing_agent.py")
DELAY = 1.0
AGENTS = 4
WAIT_ROUNDS = 3


def _zrange_op(username: str) -> Op[Any]:
    """The helper before issue 23: one ZRANGE of the newest post, through the project's driver."""
    return (yield Call("zrange", (keys.posted_tweets(username), -1, -1), {"withscores": True}))


def _server_usec(bench: Any, before: dict[str, tuple[int, int]], command: str) -> float:
    calls, usec = h.stats_delta(before, h.command_stats(bench.r)).get(command, (0, 0))
    return usec / calls if calls else float("nan")


def test_uncontended_call_vs_one_zrange(bench: Any) -> None:
    bench.fresh()
    r, db = bench.r, bench.db
    user = "bench_pacer"
    h.send_commands(r, h.seed_account_commands(user, 100, 1_600_000_000, records=False))
    zkey = keys.posted_tweets(user)
    driver = SyncDriver(db.connector)
    with db.posting_slot(user, 0):  # the script known to the server, the connection open
        pass
    per_call: dict[str, float] = {}

    def ours(rnd: int) -> h.Stopwatch:
        before = h.command_stats(r)
        with h.Stopwatch() as sw:
            for _ in range(CALLS):
                with db.posting_slot(user, 0):  # delay 0: the slot is free, taken every time
                    pass
        per_call["ours"] = _server_usec(bench, before, "evalsha")
        return sw

    def raw(rnd: int) -> h.Stopwatch:
        before = h.command_stats(r)
        with h.Stopwatch() as sw:
            for _ in range(CALLS):
                r.zrange(zkey, -1, -1, withscores=True)
        per_call["raw"] = _server_usec(bench, before, "zrange")
        return sw

    def before_23(rnd: int) -> h.Stopwatch:
        with h.Stopwatch() as sw:
            for _ in range(CALLS):
                driver.run(_zrange_op(user))
        return sw

    times = h.interleaved(ROUNDS, {"ours": ours, "raw": raw, "before": before_23})
    us = {k: h.median(h.walls(v)) / CALLS * 1e6 for k, v in times.items()}
    assert r.exists(keys.posting_slot(user)) and r.zcard(zkey) == 100
    h.record(h.Row(
        "9.1 pacing: one uncontended posting_slot (sync)", "us/call", key="pacing.uncontended.sync",
        ours=us["ours"], raw=us["raw"],
        cpu_vs_raw=h.cpu_per_run(times["ours"]) / h.cpu_per_run(times["raw"]),
        target="report",
        note=(
            f"median of {ROUNDS} rounds x {CALLS} calls; ours = `with db.posting_slot(u, 0)` (EVALSHA of "
            f"POSTING_RESERVE: HMGET, ZRANGE, TIME, PEXPIRETIME, HSET, PEXPIRE); raw = redis-py "
            f"`zrange(key, -1, -1, withscores=True)`; the helper before issue 23 (that ZRANGE through "
            f"the project's driver) {us['before']:.0f} us/call; server time per call: script "
            f"{per_call['ours']:.1f} us, ZRANGE {per_call['raw']:.1f} us; spread ours "
            f"{h.spread(times['ours'])}, raw {h.spread(times['raw'])}"
        ),
    ))
    _async_uncontended(bench, user, zkey)


def _async_uncontended(bench: Any, user: str, zkey: str) -> None:
    loop = asyncio.new_event_loop()
    adb = AsyncRedisDB(connector=bench.db.connector)
    raw_client = redis.asyncio.Redis.from_url(bench.settings.url)

    async def ours() -> float:
        t0 = time.perf_counter()
        for _ in range(CALLS):
            async with adb.posting_slot(user, 0):
                pass
        return time.perf_counter() - t0

    async def raw() -> float:
        t0 = time.perf_counter()
        for _ in range(CALLS):
            await raw_client.zrange(zkey, -1, -1, withscores=True)
        return time.perf_counter() - t0

    try:
        loop.run_until_complete(ours())  # warm: connections of this loop
        loop.run_until_complete(raw())
        walls: dict[str, list[float]] = {"ours": [], "raw": []}
        for rnd in range(ROUNDS):
            for name in (["ours", "raw"] if rnd % 2 == 0 else ["raw", "ours"]):
                walls[name].append(loop.run_until_complete(ours() if name == "ours" else raw()))
    finally:
        loop.run_until_complete(adb.aclose())
        loop.run_until_complete(raw_client.aclose())
        loop.close()
    us = {k: statistics.median(v) / CALLS * 1e6 for k, v in walls.items()}
    h.record(h.Row(
        "9.1b pacing: one uncontended posting_slot (asyncio)", "us/call", key="pacing.uncontended.async",
        ours=us["ours"], raw=us["raw"], target="report",
        note=f"median of {ROUNDS} rounds x {CALLS} calls on one loop; ours = `async with "
             f"adb.posting_slot(u, 0)`; raw = redis.asyncio `zrange(key, -1, -1, withscores=True)`",
    ))


def _agents_round(bench: Any, accounts: list[str]) -> dict[str, float]:
    """``AGENTS`` processes, each with one coroutine per account, all started at once: how late each
    account's first caller returns, and how much later than ``AGENTS - 1`` spacings its last does."""
    procs = [
        subprocess.Popen([*h.python_cmd(), str(AGENT), bench.settings.url, str(DELAY), *accounts],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(AGENTS)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        start = time.time()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        returns: dict[str, list[tuple[float, float]]] = {}
        for proc in procs:
            out, _ = proc.communicate(timeout=120)
            for account, at, waited in json.loads(out.splitlines()[-1]):
                returns.setdefault(account, []).append((at, waited))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    first, added = [], []
    for calls in returns.values():
        calls.sort()
        at = [t for t, _ in calls]
        assert len(at) == AGENTS and min(b - a for a, b in zip(at, at[1:], strict=False)) >= DELAY
        assert [w for _, w in calls].count(0.0) == 1  # one caller per account went at once
        first.append(at[0] - start)
        added.append(at[-1] - at[0] - (AGENTS - 1) * pacing.spacing(DELAY))
    return {"first_p50": statistics.median(first), "first_max": max(first),
            "added_p50": statistics.median(added), "added_max": max(added)}


def test_100_accounts_x_4_agents_add_no_wait(bench: Any) -> None:
    bench.fresh()
    runs: dict[str, list[dict[str, float]]] = {"100": [], "1": []}
    for rnd in range(WAIT_ROUNDS):
        for n in (["100", "1"] if rnd % 2 == 0 else ["1", "100"]):
            runs[n].append(_agents_round(bench, [f"r{rnd}-n{n}-acct{i}" for i in range(int(n))]))

    def med(n: str, figure: str) -> float:
        return statistics.median(run[figure] for run in runs[n]) * 1e3

    load = h.loadavg()
    h.record(h.Row(
        f"9.2 pacing: 100 accounts x {AGENTS} agents, the last caller's added wait", "ms",
        key="pacing.accounts.added_wait", ours=med("100", "added_max"), raw=med("1", "added_max"),
        target="<= 1 account's + 50 ms", met=med("100", "added_max") <= med("1", "added_max") + 50,
        note=(
            f"{AGENTS} agent processes, each with a coroutine per account, delay {DELAY:g} s (slots "
            f"{pacing.spacing(DELAY):g} s apart); added wait = last return - first return - "
            f"{AGENTS - 1} slots, worst account, median of {WAIT_ROUNDS} rounds; raw column: 1 account x "
            f"{AGENTS} agents; median account {med('100', 'added_p50'):.1f} ms (1 account: "
            f"{med('1', 'added_p50'):.1f} ms); load {load}"
        ),
    ))
    h.record(h.Row(
        f"9.2b pacing: 100 accounts x {AGENTS} agents, each account's first return after the start",
        "ms", key="pacing.accounts.first", ours=med("100", "first_max"), raw=med("1", "first_max"),
        target="report",
        note=f"worst account, median of {WAIT_ROUNDS} rounds (median account "
             f"{med('100', 'first_p50'):.1f} ms); raw column: 1 account. Every account's first caller "
             f"is told to go at its first ask (waited 0.0, asserted): this is the time {AGENTS} processes "
             f"take to make 100 calls each at once, not a wait for another account's slot",
    ))
