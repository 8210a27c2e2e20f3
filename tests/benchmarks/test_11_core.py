"""Issue 22: what the core costs, against raw redis-py doing the same Redis work.

Run::

    pytest -m benchmark tests/benchmarks/test_11_core.py -s   # ~23 min; BENCH_QUICK=1: no 1M, ~6 min

"Raw" writes the same bytes to the same keys as the project: the legacy member into
``posted_tweets:{user}`` and the ``Post`` record (the member with its account list) at the record
key, into an index of the same fields (``Post.schema_args()``, created by raw itself). "Raw,
unindexed" is the same work with no index: beside each row, so a reader sees what the index costs.
Every figure is a median of interleaved rounds (rotated order); client CPU is this process's
``process_time``, server CPU the server process's. Nothing is timed-asserted.

Rows:

- 11.1  one sync ``db.add_user_post`` vs ``MULTI{ZADD, JSON.SET}`` (target: time <= 1.0x raw, and
        client CPU <= 1.0x raw's);
- 11.1b the same with ``AsyncRedisDB`` and ``redis.asyncio``;
- 11.2  ``db.add_user_posts`` (1,000 ``Post`` objects per account) at 100k and 1M posts vs pipelined
        ZADD + JSON.SET (target >= 1.0x raw), each variant on a fresh server;
- 11.3  ``redis-client migrate run`` end to end (child process) at 100k and 1M vs pipelined
        ``JSON.SET`` of the same records (target >= 1.0x raw);
- 11.4  newest-100 ``Post.find`` of one account among 100k and 1M vs ``FT.SEARCH`` + ``json.loads``
        (target <= 1.15x); the unindexed reference is the account's own sorted set (``ZRANGE REV``).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis
import redis.asyncio

from redis_client.aio import AsyncRedisDB
from redis_client.core import keys
from redis_client.core.settings import load_settings
from redis_client.db import RedisDB
from redis_client.models.post import Post

from . import _harness as h
from . import _memory as m

pytestmark = pytest.mark.benchmark

SMALL, LARGE = 100_000, 1_000_000
SINGLE_CALLS = 500
SINGLE_ROUNDS = int(os.environ.get("BENCH_CORE_ROUNDS", "5" if h.QUICK else "9"))
BULK_ROUNDS = 3 if h.QUICK else 5
INDEX = Post._meta.index_name
WARM_KEY = keys.model_key(keys.POST_PREFIX, "warm")
SIZES = [pytest.param(SMALL, id="100k"), pytest.param(LARGE, id="1M")]

_DATA: dict[int, list[m.Account]] = {}


def data(total: int) -> list[m.Account]:
    if total not in _DATA:
        _DATA.clear()  # one size at a time: 1M members are ~400 MB here
        _DATA[total] = m.Corpus(total // 1000, prefix="core").data()
    return _DATA[total]


def label(total: int) -> str:
    return "100k" if total == SMALL else f"{total // 1_000_000}M"


def skip_large(total: int) -> None:
    if total > SMALL and h.QUICK:
        pytest.skip("BENCH_QUICK=1: the 1M case is skipped")


def spread(values: list[float]) -> str:
    if len(values) < 2:
        return "one run"
    return f"+-{(max(values) - min(values)) / 2 / statistics.median(values) * 100:.0f}%"


def raw_document(member: str, user: str) -> str:
    """The record ``add_user_post`` writes for ``member`` (checked below against the product)."""
    return m.record_document(member, user)


def raw_index(r: redis.Redis, indexed: bool) -> None:
    if indexed:
        r.execute_command("FT.CREATE", INDEX, *Post.schema_args())


def raw_writes(
    tmp: Path, total: int, write: Callable[[redis.Redis, m.Account, list[dict[str, Any]]], None]
) -> Callable[[bool], Callable[[int], Measured]]:
    """Raw variants of a bulk row (indexed or not): ``write`` of every account's posts on a fresh
    server, the posts' dicts made outside the clock, the index warmed by one record first."""
    accounts = data(total)

    def variant(indexed: bool) -> Callable[[int], Measured]:
        def run(rnd: int) -> Measured:
            with m.FreshServer(tmp / f"raw-{rnd}-{indexed}") as s:
                raw_index(s.r, indexed)
                s.r.execute_command("JSON.SET", WARM_KEY, "$", accounts[0].members[0])
                s.r.delete(WARM_KEY)
                meter = Measured(s.proc, total)
                for acc in accounts:
                    fields = [json.loads(x) for x in acc.members]
                    with meter:
                        write(s.r, acc, fields)
                if indexed:
                    assert h.index_num_docs(s.r, INDEX) == total
                return meter

        return run

    return variant


def compare_bulk(
    name: str,
    key: str,
    total: int,
    ours: Callable[[int], Measured],
    raw: Callable[[bool], Callable[[int], Measured]],
) -> None:
    """Ours against raw indexed and unindexed, interleaved (one round at 1M), and the rows."""
    rounds = BULK_ROUNDS if total == SMALL else 1
    runs = h.interleaved(rounds, {"ours": ours, "raw": raw(True), "unindexed": raw(False)})
    _rows_for(name, f"{key}.{label(total)}", runs, throughput=True, target=1.0)


class Measured(h.Stopwatch):
    """A stopwatch of ``calls`` calls (or posts), measuring the given server process's CPU too."""

    def __init__(self, server: psutil.Process, calls: int) -> None:
        super().__init__(server=server)
        self.calls = calls

    def us(self, seconds: float) -> float:
        return seconds / self.calls * 1e6


def _per_call(runs: list[Measured], attr: str) -> float:
    """Mean microseconds per call of ``attr`` over all runs (CPU clocks tick coarsely: summed first)."""
    return sum(getattr(x, attr) for x in runs) / sum(x.calls for x in runs) * 1e6


def _rows_for(
    name: str,
    key: str,
    runs: dict[str, list[Measured]],
    *,
    throughput: bool,
    target: float,
    cpu_target: bool = False,
) -> None:
    """Record ``name`` (ours vs raw indexed) and its unindexed companion row."""
    number, what = name.split(" (vs", 1)[0].split(" ", 1)
    value = {
        k: [(x.calls / x.elapsed if throughput else x.us(x.elapsed)) for x in v] for k, v in runs.items()
    }
    med = {k: statistics.median(v) for k, v in value.items()}
    client = {k: _per_call(v, "cpu") for k, v in runs.items()}
    server = {k: _per_call(v, "server_cpu") for k, v in runs.items()}
    note = (
        f"median of {len(runs['ours'])}; spread ours {spread(value['ours'])}, raw {spread(value['raw'])}; "
        f"per post: client CPU ours {client['ours']:.1f} us, raw {client['raw']:.1f} us, unindexed "
        f"{client['unindexed']:.1f} us; server CPU ours {server['ours']:.1f} us, raw {server['raw']:.1f} us, "
        f"unindexed {server['unindexed']:.1f} us; load {h.loadavg()}"
    )
    client_ratio = client["ours"] / client["raw"]
    row = h.Row(
        name,
        "posts/s" if throughput else "us/op",
        key=key,
        ours=med["ours"],
        raw=med["raw"],
        higher_is_better=throughput,
        cpu_vs_raw=(client["ours"] + server["ours"]) / (client["raw"] + server["raw"]),
        target=(f">={target}x raw" if throughput else f"<={target}x raw")
        + (", client CPU <=1.0x" if cpu_target else ""),
        note=note + f"; client CPU ours/raw {client_ratio:.2f}x",
    )
    ratio = row.vs_raw
    row.met = ratio is not None and (ratio >= target if throughput else ratio <= target)
    if cpu_target:
        row.met = row.met and client_ratio <= 1.0
    h.record(row)
    h.record(
        h.Row(
            f"{number}u {what} vs raw unindexed",
            row.unit,
            ours=med["ours"],
            raw=med["unindexed"],
            higher_is_better=throughput,
            cpu_vs_raw=(client["ours"] + server["ours"]) / (client["unindexed"] + server["unindexed"]),
            target="report (what the index costs)",
            note=f"raw indexed / raw unindexed: {med['raw'] / med['unindexed']:.2f}x",
        )
    )


# --------------------------------------------------------------------------------------------
# 11.1 one add_user_post per call, sync and asyncio
# --------------------------------------------------------------------------------------------


def _single_posts() -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    fields = [json.loads(x) for x in m.Corpus(1, SINGLE_CALLS, prefix="single").data()[0].members]
    warm = dict(fields[0], id="1" * 19, sender_username="warmup")
    return fields[0]["sender_username"], fields, warm


def test_single_add_user_post_sync(bench: Any) -> None:
    r, server = bench.r, psutil.Process(bench.server.pid)
    user, fields, warm = _single_posts()
    zkey = keys.posted_tweets(user)
    db = RedisDB(load_settings(url=bench.server.url, startup_wait=5))

    def ours(rnd: int) -> Measured:
        m.flush(r)
        db.connector.forget_indexes()
        db.add_user_post("warmup", warm)  # index, script and connection ready: untimed
        posts = [Post(**f) for f in fields]
        with Measured(server, SINGLE_CALLS) as meter:
            for post in posts:
                db.add_user_post(user, post)
        doc = r.execute_command("JSON.GET", keys.model_key(keys.POST_PREFIX, fields[-1]["id"]))
        assert json.loads(doc) == json.loads(raw_document(json.dumps(fields[-1]), user))
        return meter

    def raw(indexed: bool) -> Any:
        def run(rnd: int) -> Measured:
            m.flush(r)
            raw_index(r, indexed)
            r.execute_command("JSON.SET", WARM_KEY, "$", json.dumps(warm))
            with Measured(server, SINGLE_CALLS) as meter:
                for f in fields:
                    member = json.dumps(f)
                    pipe = r.pipeline(transaction=True)  # MULTI / EXEC: one round trip
                    pipe.zadd(zkey, {member: f["timestamp"]})
                    pipe.execute_command(
                        "JSON.SET", keys.model_key(keys.POST_PREFIX, f["id"]), "$", raw_document(member, user)
                    )
                    pipe.execute()
            return meter

        return run

    runs = h.interleaved(SINGLE_ROUNDS, {"ours": ours, "raw": raw(True), "unindexed": raw(False)})
    assert r.zcard(zkey) == SINGLE_CALLS
    _rows_for(
        "11.1 add_user_post, sync (vs MULTI{ZADD, JSON.SET} indexed)",
        "core.add_user_post.sync",
        runs,
        throughput=False,
        target=1.0,
        cpu_target=True,
    )
    db.reconfigure(None)  # its pools go
    bench.fresh()


def test_single_add_user_post_async(bench: Any) -> None:
    r, server = bench.r, psutil.Process(bench.server.pid)
    user, fields, warm = _single_posts()
    zkey = keys.posted_tweets(user)
    settings = load_settings(url=bench.server.url, startup_wait=5)

    def ours(rnd: int) -> Measured:
        m.flush(r)
        posts = [Post(**f) for f in fields]

        async def body() -> Measured:
            async with AsyncRedisDB(settings) as adb:
                adb.connector.forget_indexes()
                await adb.add_user_post("warmup", warm)
                with Measured(server, SINGLE_CALLS) as meter:
                    for post in posts:
                        await adb.add_user_post(user, post)
            return meter

        return asyncio.run(body())

    def raw(indexed: bool) -> Any:
        def run(rnd: int) -> Measured:
            m.flush(r)
            raw_index(r, indexed)

            async def body() -> Measured:
                ar = redis.asyncio.Redis.from_url(bench.server.url)
                await ar.execute_command("JSON.SET", WARM_KEY, "$", json.dumps(warm))
                with Measured(server, SINGLE_CALLS) as meter:
                    for f in fields:
                        member = json.dumps(f)
                        pipe = ar.pipeline(transaction=True)
                        pipe.zadd(zkey, {member: f["timestamp"]})
                        record = keys.model_key(keys.POST_PREFIX, f["id"])
                        pipe.execute_command("JSON.SET", record, "$", raw_document(member, user))
                        await pipe.execute()
                await ar.aclose()
                return meter

            return asyncio.run(body())

        return run

    runs = h.interleaved(SINGLE_ROUNDS, {"ours": ours, "raw": raw(True), "unindexed": raw(False)})
    assert r.zcard(zkey) == SINGLE_CALLS
    _rows_for(
        "11.1b add_user_post, asyncio (vs redis.asyncio MULTI{ZADD, JSON.SET} indexed)",
        "core.add_user_post.async",
        runs,
        throughput=False,
        target=1.0,
        cpu_target=True,
    )
    bench.fresh()


# --------------------------------------------------------------------------------------------
# 11.2 add_user_posts, 1,000 posts per account, 100k and 1M posts
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("total", SIZES)
def test_bulk_add_user_posts(total: int, tmp_path: Path) -> None:
    skip_large(total)
    accounts = data(total)

    def ours(rnd: int) -> Measured:
        with m.FreshServer(tmp_path / f"ours-{rnd}") as s:
            db = RedisDB(load_settings(url=s.url, startup_wait=5))
            warm = dict(json.loads(accounts[0].members[0]), id="1" * 19, sender_username="warmup")
            db.add_user_post("warmup", warm)
            meter = Measured(s.proc, total)
            for acc in accounts:
                posts = [Post(**json.loads(x)) for x in acc.members]  # the caller's objects: untimed
                with meter:
                    db.add_user_posts(acc.user, posts)
            assert h.index_num_docs(s.r, INDEX) == total + 1
            db.reconfigure(None)  # its pools go
            return meter

    def write(r: redis.Redis, acc: m.Account, fields: list[dict[str, Any]]) -> None:
        zkey = keys.posted_tweets(acc.user)
        pipe = r.pipeline(transaction=False)
        for k in range(0, len(fields), 500):  # the project's batches are 500 posts too
            chunk = fields[k : k + 500]
            members = [json.dumps(f) for f in chunk]
            pipe.zadd(zkey, {x: f["timestamp"] for x, f in zip(members, chunk, strict=True)})
            for x, f in zip(members, chunk, strict=True):
                record = keys.model_key(keys.POST_PREFIX, f["id"])
                pipe.execute_command("JSON.SET", record, "$", raw_document(x, acc.user))
        pipe.execute()

    compare_bulk(
        f"11.2 add_user_posts, {label(total)} (vs pipelined ZADD + JSON.SET indexed)",
        "core.add_user_posts",
        total,
        ours,
        raw_writes(tmp_path, total, write),
    )


# --------------------------------------------------------------------------------------------
# 11.3 migrate run end to end, 100k and 1M posts
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("total", SIZES)
def test_migrate_run(total: int, tmp_path: Path) -> None:
    skip_large(total)
    accounts = data(total)

    def ours(rnd: int) -> Measured:
        with m.FreshServer(tmp_path / f"mig-{rnd}") as s:
            for n, acc in enumerate(accounts):
                h.send_commands(s.r, m.legacy_commands(acc.user, acc.members, acc.timestamps))
                h.send_commands(s.r, [m.twitter_data_command(acc.user, n)])
            c0, ch0 = s.cpu(), resource.getrusage(resource.RUSAGE_CHILDREN)
            res = m.migrate_in_child(s.url)
            ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            meter = Measured(s.proc, total)
            meter.elapsed = res["run_s"]  # without the interpreter's start and imports
            meter.cpu = ch1.ru_utime + ch1.ru_stime - ch0.ru_utime - ch0.ru_stime
            meter.server_cpu = s.cpu() - c0
            assert h.index_num_docs(s.r, INDEX) == total
            return meter

    def write(r: redis.Redis, acc: m.Account, fields: list[dict[str, Any]]) -> None:
        pipe = r.pipeline(transaction=False)
        for f in fields:
            record = keys.model_key(keys.POST_PREFIX, f["id"])
            pipe.execute_command("JSON.SET", record, "$", raw_document(json.dumps(f), acc.user))
        pipe.execute()

    compare_bulk(
        f"11.3 migrate run end to end, {label(total)} (vs pipelined JSON.SET indexed)",
        "core.migrate",
        total,
        ours,
        raw_writes(tmp_path, total, write),
    )


# --------------------------------------------------------------------------------------------
# 11.4 newest-100 find of one account
# --------------------------------------------------------------------------------------------

TARGET, TARGET_POSTS, QUERIES, LIMIT, START_TS = "core_target", 1000, 300, 100, 1_600_000_000


@pytest.mark.parametrize("total", SIZES)
def test_find_newest_100(bench: Any, total: int) -> None:
    skip_large(total)
    r = bench.r
    bench.fresh()
    h.send_commands(r, h.seed_account_commands(TARGET, TARGET_POSTS, START_TS))
    for a in range(total // 1000 - 1):
        h.send_commands(r, h.seed_account_commands(f"core_filler_{a:05d}", 1000, START_TS + a))
    assert h.index_num_docs(r, INDEX) == total
    zkey, newest = keys.posted_tweets(TARGET), START_TS + TARGET_POSTS - 1
    server = psutil.Process(bench.server.pid)

    def timed(body: Any) -> Measured:
        meter = Measured(server, 1)  # timed by hand: no gc.collect per query
        t0, c0 = time.perf_counter(), time.process_time()
        docs = body()
        meter.elapsed, meter.cpu = time.perf_counter() - t0, time.process_time() - c0
        assert len(docs) == LIMIT and docs[0]["timestamp"] == newest
        return meter

    def ours(rnd: int) -> Measured:
        def body() -> list[dict[str, Any]]:
            query = Post.find(Post.sender_username == TARGET).sort_by("-timestamp")
            return [p.__dict__ for p in query.page(0, LIMIT)]

        return timed(body)

    def raw(rnd: int) -> Measured:
        def body() -> list[dict[str, Any]]:
            reply = r.execute_command(
                "FT.SEARCH",
                INDEX,
                f"@sender_username:{{{TARGET}}}",
                "SORTBY",
                "timestamp",
                "DESC",
                "LIMIT",
                "0",
                str(LIMIT),
            )
            return [json.loads(doc) for doc in h.search_docs(reply)]

        return timed(body)

    def unindexed(rnd: int) -> Measured:
        return timed(lambda: [json.loads(x) for x in r.zrange(zkey, 0, LIMIT - 1, desc=True)])

    for _ in range(20):
        ours(0), raw(0), unindexed(0)
    runs = h.interleaved(QUERIES, {"ours": ours, "raw": raw, "unindexed": unindexed})
    ms = {k: statistics.median(x.elapsed for x in v) * 1e3 for k, v in runs.items()}
    client = {k: _per_call(v, "cpu") for k, v in runs.items()}
    row = h.Row(
        f"11.4 find newest 100 of 1 account, {label(total)} (vs FT.SEARCH + json.loads)",
        "ms",
        key=f"core.find.{label(total)}",
        ours=ms["ours"],
        raw=ms["raw"],
        target="<=1.15x raw",
        note=(
            f"median of {QUERIES} queries each; client CPU per query ours {client['ours']:.0f} us, raw "
            f"{client['raw']:.0f} us; unindexed reference (the account's sorted set, ZRANGE REV 0..99 + "
            f"json.loads) {ms['unindexed']:.2f} ms; load {h.loadavg()}"
        ),
    )
    row.met = row.vs_raw is not None and row.vs_raw <= 1.15
    h.record(row)
    bench.fresh()
