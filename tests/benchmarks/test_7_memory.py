"""Issue 14: what the records cost in memory, and write and migration speed against raw redis-py.

Run::

    pytest -m benchmark tests/benchmarks/test_7_memory.py -s     # ~10 min; BENCH_QUICK=1: no 1M, ~4 min

``BENCH_MEMORY_ROUNDS`` sets the timed rounds at 100k (default 5, 3 with BENCH_QUICK);
``BENCH_MEMORY_JSON`` where every figure is written as JSON (default: pytest's base temp dir).

The baseline everywhere is *plain indexed JSON*: the 7 post fields as ``json.dumps`` writes
them, at ``plain:post:{id}``, in an index with TAG ``sender_username``, NUMERIC SORTABLE
``timestamp``, TEXT ``text``, TAG ``quoted_tweet_id`` and ``is_reply_to`` (default options);
"raw" is redis-py writing that. Sections, in run order:

1. ``db.add_user_post`` (one atomic call per post) vs raw MULTI{ZADD, JSON.SET} into the plain
   index: latency, with full-text search on and off;
2. ``db.add_user_posts`` of 100k posts (100 accounts x 1,000 ``Post`` objects) vs raw
   pipelined ZADD + JSON.SET into the plain index: throughput, full text on and off;
3. the index, one field at a time (100k posts): our index minus each field, plus NOOFFSETS,
   no index at all and the plain baselines; per variant server memory, FT.INFO, MEMORY USAGE,
   server write cost, and the queries that stop working;
4. 100k and 1M posts (100 / 1,000 accounts): memory per post of the legacy members, of the
   records + index written by the product (default, and ``REDIS_FULL_TEXT_SEARCH=false``) and
   of the plain baseline; the migration end to end (``redis-client migrate run`` in a child
   process: time, peak RSS ``VmHWM``) and its write path (``records.write_records`` through
   ``SyncDriver(Connector(settings))``, members parsed outside the clock) vs raw pipelined
   ``JSON.SET`` of the same posts into the plain index;
5. a projection from the 100k and 1M slopes: memory and migration time at 10M posts, and how
   many posts 1, 8 and 64 GB hold with and without the records.

Memory is ``used_memory`` after minus before a load, read once FT.INFO says ``indexing`` 0
(FT.INFO's own figures undercount), each variant on a freshly started server: after a
FLUSHALL RediSearch and RedisJSON keep allocator pools that make a second load on the same
server look ~50-70 B/post cheaper. The script, Lua VM and connections are warmed before the
"before" reading: fixed costs, not per post. Timed variants run interleaved, in a rotated
order, and rows report medians with their spread and the load average; the ``cpu ours/raw``
column (client + server CPU seconds) holds when other processes share the machine, wall times
do not. The ablation's write costs come from one load per variant (about +-5 us/post of
noise). Nothing is timed-asserted; only gross correctness (counts) is checked.
"""

from __future__ import annotations

import gc
import json
import math
import os
import resource
import statistics
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from redis_client.core import indexes as core_indexes
from redis_client.core import keys
from redis_client.core.connector import Connector
from redis_client.core.drivers import SyncDriver
from redis_client.core.settings import load_settings
from redis_client.db import RedisDB
from redis_client.models.post import Post
from redis_client.records import members as record_members
from redis_client.records.posts import write_records

from . import _harness as h
from . import _memory as m

pytestmark = pytest.mark.benchmark

SMALL, LARGE = 100_000, 1_000_000
POSTS_PER_ACCOUNT = 1000
#: Timed rounds at 100k (each variant on its own fresh server every round); 1M runs once.
ROUNDS = int(os.environ.get("BENCH_MEMORY_ROUNDS", "3" if h.QUICK else "5"))
SINGLE_CALLS = 500
SINGLE_ROUNDS = 5 if h.QUICK else 9
RECORD_PREFIX = Post.make_key("")
POST_INDEX = Post._meta.index_name
PLAIN = m.PLAIN_PREFIX
PLAIN_LONG = "plain_client_om:post:"  # as long as ours (21 characters)
ABLATION_INDEX = "ablation:idx"
assert len(PLAIN_LONG) == len(RECORD_PREFIX)

#: Everything measured, for the tables at the end and the JSON file.
RESULTS: dict[str, Any] = {"context": {}, "rows": [], "single": {}, "bulk": {}, "ablation": [], "sizes": {}}
_DATA: dict[int, list[m.Account]] = {}


def label(total: int) -> str:
    return f"{total // 1000}k" if total < 1_000_000 else f"{total // 1_000_000}M"


_GENERATED_S: dict[int, float] = {}


def data(total: int) -> list[m.Account]:
    if total not in _DATA:
        t0 = time.perf_counter()
        _DATA[total] = m.Corpus(total // POSTS_PER_ACCOUNT, POSTS_PER_ACCOUNT).data()
        _GENERATED_S[total] = time.perf_counter() - t0
    return _DATA[total]


def record(row: h.Row) -> h.Row:
    """Into the session's table (conftest prints it at the end) and this file's."""
    RESULTS["rows"].append(row)
    return h.record(row)


def spread(values: list[float]) -> str:
    if len(values) < 2:
        return "n=1"
    return f"±{(max(values) - min(values)) / 2 / statistics.median(values) * 100:.0f}% (n={len(values)})"


def _totals(stats: dict[str, list[int]]) -> dict[str, tuple[int, int]]:
    return {k: (v[0], v[1]) for k, v in stats.items()}


def _no_bad(index: int, reason: str) -> None:
    raise AssertionError(f"generated member #{index} rejected: {reason}")


@pytest.fixture(scope="module", autouse=True)
def report(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    ctx = RESULTS["context"]
    ctx["machine"] = h.machine_description()
    ctx["load average at start"] = h.loadavg()
    sample = m.Corpus(100, 10)
    ctx["data"] = (
        f"{POSTS_PER_ACCOUNT} posts per account, {m.VOCABULARY_SIZE}-word Zipf vocabulary (seed "
        f"{m.SEED}); sample: {m.describe_corpus([p for a in range(100) for p in sample.posts(a)])}"
    )
    t0 = time.perf_counter()
    yield
    ctx["load average at end"] = h.loadavg()
    ctx["duration"] = f"{time.perf_counter() - t0:.0f} s"
    path = Path(os.environ.get("BENCH_MEMORY_JSON") or tmp_path_factory.getbasetemp() / "memory-results.json")
    path.write_text(json.dumps(_jsonable(RESULTS), indent=1, default=str))
    text = render() + f"\n(every figure as JSON: {path})"
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("")
        for line in text.splitlines():
            reporter.write_line(line)
    else:
        print(text)


def _jsonable(value: Any) -> Any:
    if isinstance(value, h.Row):
        return {**value.__dict__, "vs_raw": value.vs_raw}
    if isinstance(value, m.Run):
        out = {k: v for k, v in value.__dict__.items()}
        out["rate"], out["bpp"] = value.rate, value.bpp
        return out
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --------------------------------------------------------------------------------------------
# 1. add_user_post, one call per post
# --------------------------------------------------------------------------------------------


def test_single_add_user_post(bench: Any) -> None:
    r = bench.r
    server = psutil.Process(bench.server.pid)
    fields = [json.loads(x) for x in m.Corpus(1, SINGLE_CALLS, prefix="single").data()[0].members]
    user = fields[0]["sender_username"]
    zkey = keys.posted_tweets(user)
    warm = dict(fields[0], id="1" * 19, sender_username="warmup")
    dbs = {
        "ours": RedisDB(load_settings(url=bench.server.url, startup_wait=5)),
        "ours_fts_off": RedisDB(load_settings(url=bench.server.url, startup_wait=5, full_text_search=False)),
    }
    stats: dict[str, dict[str, list[int]]] = {name: {} for name in ("ours", "ours_fts_off", "raw")}

    def timed(name: str, body: Any) -> m.Meter:
        gc.collect()
        s0, c0 = h.command_stats(r), server.cpu_times()
        with m.Meter() as meter:
            body()
        c1 = server.cpu_times()
        meter.server = c1.user + c1.system - c0.user - c0.system
        h.add_stats(stats[name], h.stats_delta(s0, h.command_stats(r)))
        assert r.zcard(zkey) == SINGLE_CALLS
        return meter

    def ours(name: str) -> Any:
        db = dbs[name]

        def run(rnd: int) -> m.Meter:
            m.flush(r)
            db.connector.forget_indexes()
            db.add_user_post("warmup", warm)  # index, script and connection ready: untimed
            posts = [Post(**f) for f in fields]

            def body() -> None:
                for post in posts:
                    db.add_user_post(user, post)

            return timed(name, body)

        return run

    def raw(rnd: int) -> m.Meter:
        m.flush(r)
        r.execute_command("FT.CREATE", m.PLAIN_INDEX, *m.plain_schema())
        r.execute_command("JSON.SET", PLAIN + "warm", "$", json.dumps(warm))

        def body() -> None:
            for f in fields:
                member = json.dumps(f)  # the 7 fields: the member is the plain document
                pipe = r.pipeline(transaction=True)  # MULTI / EXEC: one round trip
                pipe.zadd(zkey, {member: f["timestamp"]})
                pipe.execute_command("JSON.SET", PLAIN + f["id"], "$", member)
                pipe.execute()

        return timed("raw", body)

    times = h.interleaved(
        SINGLE_ROUNDS, {"ours": ours("ours"), "ours_fts_off": ours("ours_fts_off"), "raw": raw}
    )
    per_op = {k: [mt.wall / SINGLE_CALLS * 1e6 for mt in v] for k, v in times.items()}
    cpu = {k: sum(mt.cpu + mt.server for mt in v) for k, v in times.items()}
    med = {k: statistics.median(v) for k, v in per_op.items()}
    RESULTS["single"] = {"us_per_op": per_op, "stats": stats, "load": h.loadavg()}
    calls = SINGLE_CALLS * SINGLE_ROUNDS
    client = {k: sum(mt.cpu for mt in v) / calls * 1e6 for k, v in times.items()}
    server_us = {k: sum(mt.server for mt in v) / calls * 1e6 for k, v in times.items()}
    note = (
        f"median of {SINGLE_ROUNDS} rounds x {SINGLE_CALLS} calls; spread ours {spread(per_op['ours'])}, "
        f"raw {spread(per_op['raw'])}; CPU per call: client ours {client['ours']:.0f} us vs raw "
        f"{client['raw']:.0f} us (syscalls included), server ours {server_us['ours']:.0f} us vs raw "
        f"{server_us['raw']:.0f} us; server: ours {m.stats_note(_totals(stats['ours']), calls)}; "
        f"raw {m.stats_note(_totals(stats['raw']), calls)}; load {h.loadavg()}"
    )
    row = h.Row(
        "14.3c add_user_post, 1 post/call (vs MULTI{ZADD, JSON.SET} plain)",
        "us/op",
        key="write.add_user_post.plain",
        ours=med["ours"],
        raw=med["raw"],
        cpu_vs_raw=cpu["ours"] / cpu["raw"],
        target="<=1.2x raw",
        note=note,
    )
    row.met = row.vs_raw is not None and row.vs_raw <= 1.2
    record(row)
    record(
        h.Row(
            "14.2 add_user_post, full-text search off",
            "us/op",
            ours=med["ours_fts_off"],
            raw=med["raw"],
            cpu_vs_raw=cpu["ours_fts_off"] / cpu["raw"],
            target="report",
            note=f"FTS on/off time ratio {med['ours'] / med['ours_fts_off']:.2f}x",
        )
    )
    m.flush(r)
    bench.fresh()


# --------------------------------------------------------------------------------------------
# 2. add_user_posts, 100k posts
# --------------------------------------------------------------------------------------------


def test_bulk_add_user_posts(bench: Any) -> None:
    r = bench.r
    server = psutil.Process(bench.server.pid)
    accounts = data(SMALL)
    dbs = {
        "ours": RedisDB(load_settings(url=bench.server.url, startup_wait=5)),
        "ours_fts_off": RedisDB(load_settings(url=bench.server.url, startup_wait=5, full_text_search=False)),
    }
    warm = dict(json.loads(accounts[0].members[0]), id="1" * 19, sender_username="warmup")
    stats: dict[str, dict[str, list[int]]] = {name: {} for name in ("ours", "ours_fts_off", "raw")}

    def measured(name: str, prepare: Any, write: Any) -> m.Run:
        run = m.Run(name, SMALL)
        meter = m.Meter()
        s0, c0 = h.command_stats(r), server.cpu_times()
        for acc in accounts:
            prepared = prepare(acc)  # untimed: Post objects / field dicts
            with meter:
                write(acc, prepared)
        c1 = server.cpu_times()
        h.add_stats(stats[name], h.stats_delta(s0, h.command_stats(r)))
        run.wall, run.client_cpu = meter.wall, meter.cpu
        run.server_cpu = c1.user + c1.system - c0.user - c0.system
        assert h.index_num_docs(r, POST_INDEX if name != "raw" else m.PLAIN_INDEX) == SMALL
        return run

    def ours(name: str) -> Any:
        db = dbs[name]

        def write(acc: m.Account, posts: list[Post]) -> None:
            assert db.add_user_posts(acc.user, posts) == len(posts)

        def run(rnd: int) -> m.Run:
            m.flush(r)
            db.connector.forget_indexes()
            db.add_user_post("warmup", warm)
            r.delete(keys.model_key(keys.POST_PREFIX, warm["id"]), keys.posted_tweets("warmup"))
            return measured(name, lambda acc: [Post(**json.loads(x)) for x in acc.members], write)

        return run

    def raw_write(acc: m.Account, fields: list[dict[str, Any]]) -> None:
        zkey = keys.posted_tweets(acc.user)
        pipe = r.pipeline(transaction=False)
        for k in range(0, len(fields), 500):  # the project's batches are 500 posts too
            chunk = fields[k : k + 500]
            docs = [json.dumps(f) for f in chunk]  # member == plain document
            pipe.zadd(zkey, {d: f["timestamp"] for d, f in zip(docs, chunk, strict=True)})
            for d, f in zip(docs, chunk, strict=True):
                pipe.execute_command("JSON.SET", PLAIN + f["id"], "$", d)
        pipe.execute()

    def raw(rnd: int) -> m.Run:
        m.flush(r)
        r.execute_command("FT.CREATE", m.PLAIN_INDEX, *m.plain_schema())
        r.execute_command("JSON.SET", PLAIN + "warm", "$", json.dumps(warm))
        r.delete(PLAIN + "warm")
        return measured("raw", lambda acc: [json.loads(x) for x in acc.members], raw_write)

    runs = h.interleaved(ROUNDS, {"ours": ours("ours"), "ours_fts_off": ours("ours_fts_off"), "raw": raw})
    rate = {k: [x.rate for x in v] for k, v in runs.items()}
    med = {k: statistics.median(v) for k, v in rate.items()}
    cpu = {k: sum(x.client_cpu + x.server_cpu for x in v) for k, v in runs.items()}
    n = SMALL * ROUNDS
    client = {k: sum(x.client_cpu for x in v) / n * 1e6 for k, v in runs.items()}
    srv = {k: sum(x.server_cpu for x in v) / n * 1e6 for k, v in runs.items()}
    RESULTS["bulk"] = {"runs": runs, "stats": stats, "load": h.loadavg()}
    note = (
        f"100 accounts x add_user_posts(1,000 Post objects); median of {ROUNDS} rounds; spread ours "
        f"{spread(rate['ours'])}, raw {spread(rate['raw'])}; per post: client CPU ours {client['ours']:.1f} "
        f"us vs raw {client['raw']:.1f} us, server CPU ours {srv['ours']:.1f} us vs raw {srv['raw']:.1f} us; "
        f"server: ours {m.stats_note(_totals(stats['ours']), n)}; "
        f"raw {m.stats_note(_totals(stats['raw']), n)}; load {h.loadavg()}"
    )
    row = h.Row(
        "14.3b add_user_posts, 100k (vs pipelined ZADD + JSON.SET plain)",
        "posts/s",
        key="write.add_user_posts.plain",
        ours=med["ours"],
        raw=med["raw"],
        higher_is_better=True,
        cpu_vs_raw=cpu["ours"] / cpu["raw"],
        target=">=1.0x raw",
        note=note,
    )
    row.met = row.vs_raw is not None and row.vs_raw >= 1.0
    record(row)
    record(
        h.Row(
            "14.2 add_user_posts, full-text search off",
            "posts/s",
            ours=med["ours_fts_off"],
            raw=med["raw"],
            higher_is_better=True,
            cpu_vs_raw=cpu["ours_fts_off"] / cpu["raw"],
            target="report",
            note=(
                f"FTS off/on throughput {med['ours_fts_off'] / med['ours']:.2f}x; server CPU/post "
                f"{srv['ours_fts_off']:.1f} us vs {srv['ours']:.1f} us with FTS; "
                f"spread {spread(rate['ours_fts_off'])}"
            ),
        )
    )
    m.flush(r)
    bench.fresh()


# --------------------------------------------------------------------------------------------
# 3. The index, one field at a time (100k posts, fresh server per variant)
# --------------------------------------------------------------------------------------------

#: Which documented query (and product code) needs each field of the index.
NEEDED_BY = {
    "sender_username": "Post.find(Post.sender_username == u) (README, demo, benchmark row 4)",
    "timestamp": "sort_by('-timestamp') (newest first) and ranges Post.timestamp >= t",
    "accounts": "Post.find(Post.accounts == u); the follower's @accounts:{u} (follow/linked.py)",
    "quoted_tweet_id": "Post.find(Post.quoted_tweet_id == id) (documented; no product code)",
    "is_reply_to": "Post.find(Post.is_reply_to == id) (documented; no product code)",
    "is_news_summary_tweet": "Post.find(Post.is_news_summary_tweet == True) (documented; no product code)",
    "text_fts": "Post.text % 'words'; Post.text == value (phrase, then exact filter)",
}


def _phrase(accounts: list[m.Account]) -> tuple[str, str]:
    """Two adjacent non-stop words of a post, and one word: for the phrase and word queries."""
    words = json.loads(accounts[7].members[123])["text"].lower().rstrip(".!?").split()
    pairs = [
        (a, b)
        for a, b in zip(words, words[1:], strict=False)
        if a not in m.STOP_WORDS and b not in m.STOP_WORDS
    ]
    a, b = pairs[0]
    return f"{a} {b}", b


def _queries(accounts: list[m.Account]) -> dict[str, str]:
    acc = accounts[7]
    post = next(json.loads(x) for x in acc.members if json.loads(x)["quoted_tweet_id"])
    reply = next(json.loads(x) for x in acc.members if json.loads(x)["is_reply_to"])
    phrase, word = _phrase(accounts)
    t0 = acc.timestamps[100]
    return {
        "sender_username": f"@sender_username:{{{acc.user}}}",
        "accounts": f"@accounts:{{{acc.user}}}",
        "quoted_tweet_id": f"@quoted_tweet_id:{{{post['quoted_tweet_id']}}}",
        "is_reply_to": f"@is_reply_to:{{{reply['is_reply_to']}}}",
        "is_news_summary_tweet": "@is_news_summary_tweet:{true}",
        "timestamp": f"@timestamp:[{t0} {t0 + 50_000}]",
        "text_fts": f"@text_fts:({word})",
        "phrase": f'@text_fts:"{phrase}"',
    }


def _short(value: Any) -> str:
    return "error" if isinstance(value, str) else str(value)


def _query_checks(r: Any, index: str, queries: dict[str, str], sender: str) -> dict[str, Any]:
    """Count of each query (or its error), the newest 10 ids of the sender's posts sorted by
    time, and that query's median latency (30 runs, client round trip)."""
    out: dict[str, Any] = {}
    for name, q in queries.items():
        try:
            out[name] = m.search_total(r.execute_command("FT.SEARCH", index, q, "LIMIT", 0, 0))
        except Exception as exc:  # noqa: BLE001 - a missing field is an error: that is the finding
            out[name] = f"error: {str(exc)[:60]}"
    args = ("FT.SEARCH", index, sender, "SORTBY", "timestamp", "DESC", "LIMIT", 0, 100, "NOCONTENT")
    try:
        out["sorted"] = m.search_ids(r.execute_command(*args))[:10]
        lat = []
        for _ in range(30):
            t0 = time.perf_counter()
            r.execute_command(*args)
            lat.append((time.perf_counter() - t0) * 1e3)
        out["sorted_ms"] = statistics.median(lat)
    except Exception as exc:  # noqa: BLE001
        out["sorted"] = f"error: {str(exc)[:60]}"
        out["sorted_ms"] = float("nan")
    return out


def ablation_variants() -> list[tuple[str, str, list[str] | None, str]]:
    """(name, key prefix, FT.CREATE arguments after the name or None, document kind)."""
    ours = Post.schema_args()  # the default settings: full-text search on
    variants: list[tuple[str, str, list[str] | None, str]] = [
        ("ours (default)", RECORD_PREFIX, ours, "record")
    ]
    for alias in (
        "sender_username",
        "accounts",
        "quoted_tweet_id",
        "is_reply_to",
        "is_news_summary_tweet",
        "text_fts",
    ):
        variants.append((f"- {alias}", RECORD_PREFIX, m.without_field(ours, alias), "record"))
    variants += [
        (
            "timestamp not SORTABLE",
            RECORD_PREFIX,
            m.replace_field(ours, "timestamp", ["$.timestamp", "AS", "timestamp", "NUMERIC"]),
            "record",
        ),
        ("- timestamp", RECORD_PREFIX, m.without_field(ours, "timestamp"), "record"),
        ("+ NOOFFSETS", RECORD_PREFIX, m.with_options(ours, "NOOFFSETS"), "record"),
        (
            "+ NOOFFSETS - 3 unused TAGs",
            RECORD_PREFIX,
            m.with_options(
                m.without_field(
                    m.without_field(m.without_field(ours, "quoted_tweet_id"), "is_reply_to"),
                    "is_news_summary_tweet",
                ),
                "NOOFFSETS",
            ),
            "record",
        ),
        ("records only, no index", RECORD_PREFIX, None, "record"),
        ("plain JSON, plain index (baseline)", PLAIN, m.plain_schema(PLAIN), "plain"),
        ("plain JSON, plain index, 21-char prefix", PLAIN_LONG, m.plain_schema(PLAIN_LONG), "plain"),
        ("plain JSON, no index", PLAIN, None, "plain"),
    ]
    return variants


def _ablation_commands(accounts: list[m.Account], prefix: str, kind: str) -> Any:
    for acc in accounts:
        for member, post_id in zip(acc.members, acc.ids, strict=True):
            doc = m.record_document(member, acc.user) if kind == "record" else member
            yield ("JSON.SET", prefix + post_id, "$", doc)


def test_index_field_ablation(tmp_path: Path) -> None:
    accounts = data(SMALL)
    queries = _queries(accounts)
    rows = RESULTS["ablation"] = []
    for k, (name, prefix, schema, kind) in enumerate(ablation_variants()):
        with m.FreshServer(tmp_path / f"ablation-{k}") as s:
            r = s.r
            if schema is not None:
                r.execute_command("FT.CREATE", ABLATION_INDEX, *schema)
            r.execute_command(
                "JSON.SET", prefix + "warm", "$", m.record_document(accounts[0].members[0], "w")
            )
            r.delete(prefix + "warm")
            before = m.settled_memory(r)
            r.config_resetstat()

            c0, t0 = s.cpu(), time.perf_counter()
            h.send_commands(r, _ablation_commands(accounts, prefix, kind), chunk=1000)
            wall = time.perf_counter() - t0
            mem = m.settled_memory(r) - before
            run = m.Run(
                name, SMALL, wall=wall, server_cpu=s.cpu() - c0, mem_bytes=mem, stats=h.command_stats(r)
            )
            sample = [prefix + acc.ids[j] for acc in accounts for j in range(0, POSTS_PER_ACCOUNT, 100)]
            run.memory_usage = m.memory_usage_avg(r, sample)
            if schema is not None:
                run.ft = m.ft_memory_per_post(r, ABLATION_INDEX, SMALL)
                assert run.ft["num_docs"] == SMALL, run.ft
                if prefix == RECORD_PREFIX:
                    run.extra["queries"] = _query_checks(
                        r, ABLATION_INDEX, queries, queries["sender_username"]
                    )
            run.extra["schema"] = " ".join("\\x01" if a == "\x01" else a for a in schema) if schema else "-"
            rows.append(run)
            print(
                f"\n[ablation] {name}: {run.bpp:.1f} B/post, server {run.us(run.server_cpu):.1f} us/post, "
                f"json.set {run.usec_per_call('json.set'):.1f} us/call",
                flush=True,
            )
    by_name = {run.name: run for run in rows}
    ours, plain = by_name["ours (default)"], by_name["plain JSON, plain index (baseline)"]
    reference = ours.extra["queries"]
    for run in rows:
        got = run.extra.get("queries")
        if got is None:
            continue
        broken = [f"{q} {reference[q]}->{_short(got[q])}" for q in queries if got[q] != reference[q]]
        if got["sorted"] != reference["sorted"]:
            broken.append("newest-100 order")
        run.extra["broken"] = broken
    RESULTS["ablation_queries"] = {"queries": queries, "reference": reference}
    row = h.Row(
        "14.1 records + index memory, 100k (ablation run, packed JSON.SET)",
        "B/post",
        ours=ours.bpp,
        raw=plain.bpp,
        target="<= plain (1.0x)",
        note=f"records only {by_name['records only, no index'].bpp:.0f} B/post; index "
        f"{ours.bpp - by_name['records only, no index'].bpp:.0f} B/post (FT.INFO says "
        f"{ours.ft['total_index_memory_sz_mb']:.0f})",
    )
    row.met = ours.bpp <= plain.bpp
    record(row)


# --------------------------------------------------------------------------------------------
# 4. Memory and migration at 100k and 1M
# --------------------------------------------------------------------------------------------


def _sample_keys(accounts: list[m.Account], prefix: str) -> list[str]:
    step = max(1, len(accounts) // 100)
    return [prefix + acc.ids[j] for acc in accounts[::step] for j in range(0, POSTS_PER_ACCOUNT, 100)]


def _legacy_commands(accounts: list[m.Account]) -> Any:
    for n, acc in enumerate(accounts):
        yield from m.legacy_commands(acc.user, acc.members, acc.timestamps)
        yield m.twitter_data_command(acc.user, n)


def migrate_e2e(tmp: Path, total: int, env: dict[str, str] | None = None) -> Any:
    """``redis-client migrate run`` in a child process, on a fresh server holding only the
    legacy keys (every account's sorted set and ``twitter_data`` hash)."""
    accounts = data(total)

    def run(rnd: int) -> m.Run:
        with m.FreshServer(tmp / f"e2e-{rnd}-{bool(env)}") as s:
            before = m.settled_memory(s.r)
            h.send_commands(s.r, _legacy_commands(accounts))
            legacy = m.settled_memory(s.r) - before
            s.r.config_resetstat()
            c0, ch0 = s.cpu(), resource.getrusage(resource.RUSAGE_CHILDREN)
            res = m.migrate_in_child(s.url, env=env)
            ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            run = m.Run(
                "migrate e2e",
                total,
                wall=res["run_s"],
                server_cpu=s.cpu() - c0,
                client_cpu=ch1.ru_utime + ch1.ru_stime - ch0.ru_utime - ch0.ru_stime,
                mem_bytes=m.settled_memory(s.r) - before - legacy,
                stats=h.command_stats(s.r),
            )
            assert h.index_num_docs(s.r, POST_INDEX) == total
            assert s.r.zcard(keys.posted_tweets(accounts[-1].user)) == POSTS_PER_ACCOUNT
            run.extra.update(
                legacy_bytes=legacy,
                vmhwm_kb=res["vmhwm_kb"],
                wall_with_start=res["wall_s"],
                import_s=res["import_s"],
                stdout=res["stdout"][-1500:],
            )
            run.ft = m.ft_memory_per_post(s.r, POST_INDEX, total)
            run.memory_usage = m.memory_usage_avg(s.r, _sample_keys(accounts, RECORD_PREFIX))
            return run

    return run


def write_path(tmp: Path, total: int, full_text: bool) -> Any:
    """The migration's record-only write: ``records.write_records`` through
    ``SyncDriver(Connector(settings))``, one account (1,000 posts, the default batch) per round
    trip as the migration batches them. Members are parsed outside the clock (the read side)."""
    accounts = data(total)

    def run(rnd: int) -> m.Run:
        with m.FreshServer(tmp / f"wp-{rnd}-{full_text}") as s:
            settings = load_settings(url=s.url, startup_wait=5, full_text_search=full_text)
            driver = SyncDriver(Connector(settings))
            driver.run(core_indexes.ensure_registered(settings))
            warm = record_members.parse([accounts[0].members[0].encode()], _no_bad)
            driver.run(write_records([(keys.posted_tweets("warmup"), "warmup", warm)]))
            s.r.delete(keys.model_key(keys.POST_PREFIX, accounts[0].ids[0]))
            before = m.settled_memory(s.r)
            s.r.config_resetstat()
            meter, created, c0 = m.Meter(), 0, s.cpu()
            for acc in accounts:
                posts = record_members.parse([x.encode() for x in acc.members], _no_bad)
                zkey = keys.posted_tweets(acc.user).encode()
                with meter:
                    written = driver.run(write_records([(zkey, acc.user, posts)]))
                created += written.created
            name = "ours write path" + ("" if full_text else ", FTS off")
            run = m.Run(
                name,
                total,
                wall=meter.wall,
                client_cpu=meter.cpu,
                server_cpu=s.cpu() - c0,
                mem_bytes=m.settled_memory(s.r) - before,
                stats=h.command_stats(s.r),
            )
            assert created == total
            run.ft = m.ft_memory_per_post(s.r, POST_INDEX, total)
            run.memory_usage = m.memory_usage_avg(s.r, _sample_keys(accounts, RECORD_PREFIX))
            return run

    return run


def raw_json_set(tmp: Path, total: int, ours_index: bool = False) -> Any:
    """Raw redis-py: a pipeline of ``JSON.SET`` per 1,000 posts (the batch of the write path),
    ``json.dumps`` in the clock. Plain: the 7 fields into the plain index. ``ours_index``
    (diagnostic): our record documents, ``NX``, into our index - the write path without the
    script and without the product's client code."""
    accounts = data(total)

    def run(rnd: int) -> m.Run:
        with m.FreshServer(tmp / f"raw-{rnd}-{ours_index}") as s:
            r = s.r
            if ours_index:
                prefix, index, schema = RECORD_PREFIX, POST_INDEX, Post.schema_args()
            else:
                prefix, index, schema = PLAIN, m.PLAIN_INDEX, m.plain_schema()
            r.execute_command("FT.CREATE", index, *schema)
            r.execute_command("JSON.SET", prefix + "warm", "$", accounts[0].members[0])
            r.delete(prefix + "warm")
            before = m.settled_memory(r)
            r.config_resetstat()
            meter, c0 = m.Meter(), s.cpu()
            for acc in accounts:
                fields = [json.loads(x) for x in acc.members]
                with meter:
                    pipe = r.pipeline(transaction=False)
                    if ours_index:
                        for f in fields:
                            doc = json.dumps({**f, "accounts": [acc.user]})
                            pipe.execute_command("JSON.SET", prefix + f["id"], "$", doc, "NX")
                    else:
                        for f in fields:
                            pipe.execute_command("JSON.SET", prefix + f["id"], "$", json.dumps(f))
                    pipe.execute()
            name = "raw: our docs NX into our index" if ours_index else "raw plain JSON.SET"
            run = m.Run(
                name,
                total,
                wall=meter.wall,
                client_cpu=meter.cpu,
                server_cpu=s.cpu() - c0,
                mem_bytes=m.settled_memory(r) - before,
                stats=h.command_stats(r),
            )
            assert h.index_num_docs(r, index) == total
            run.ft = m.ft_memory_per_post(r, index, total)
            run.memory_usage = m.memory_usage_avg(r, _sample_keys(accounts, prefix))
            return run

    return run


@pytest.mark.parametrize("total", [SMALL, LARGE], ids=["100k", "1M"])
def test_memory_and_migration(total: int, tmp_path: Path) -> None:
    if total > SMALL and h.QUICK:
        pytest.skip("BENCH_QUICK=1: the 1M case is skipped")
    lab = label(total)
    load0 = h.loadavg()
    data(total)
    gen_s = _GENERATED_S[total]
    variants = {
        "migrate e2e": migrate_e2e(tmp_path, total),
        "ours write path": write_path(tmp_path, total, True),
        "ours write path, FTS off": write_path(tmp_path, total, False),
        "raw plain JSON.SET": raw_json_set(tmp_path, total),
    }
    if total == SMALL:
        variants["raw: our docs NX into our index"] = raw_json_set(tmp_path, total, ours_index=True)
    rounds = ROUNDS if total == SMALL else 1
    runs = h.interleaved(rounds, variants)
    if total == SMALL:  # end to end with the full-text index off, once
        runs["migrate e2e, FTS off"] = [migrate_e2e(tmp_path, total, {"REDIS_FULL_TEXT_SEARCH": "false"})(0)]
    RESULTS["sizes"][lab] = {
        "total": total,
        "runs": runs,
        "load": f"{load0} -> {h.loadavg()}",
        "generate_s": gen_s,
    }

    def med(name: str, attr: str = "rate") -> float:
        return statistics.median(getattr(x, attr) for x in runs[name])

    def per_post(name: str, attr: str) -> float:
        return sum(getattr(x, attr) for x in runs[name]) / (total * len(runs[name])) * 1e6

    def cpu(name: str) -> float:
        return sum(x.client_cpu + x.server_cpu for x in runs[name]) / len(runs[name])

    e2e, wp, off, raw = "migrate e2e", "ours write path", "ours write path, FTS off", "raw plain JSON.SET"
    legacy = statistics.median(x.extra["legacy_bytes"] for x in runs[e2e]) / total
    plain_bpp = med(raw, "bpp")
    load = f"load {load0} -> {h.loadavg()}"
    row = h.Row(
        f"14.1 records + index memory, {lab} (write path; e2e {med(e2e, 'bpp'):.0f})",
        "B/post",
        key=f"memory.{lab}",
        ours=med(wp, "bpp"),
        raw=plain_bpp,
        target="<= plain (1.0x)",
        note=(
            f"FT.INFO index {runs[wp][0].ft['total_index_memory_sz_mb']:.0f} B/post (plain "
            f"{runs[raw][0].ft['total_index_memory_sz_mb']:.0f}); MEMORY USAGE per record "
            f"{runs[wp][0].memory_usage:.0f} B (plain {runs[raw][0].memory_usage:.0f}); the e2e "
            f"figure also holds {total // POSTS_PER_ACCOUNT} TwitterAccount records and the "
            f"migration's state"
        ),
    )
    row.met = row.vs_raw is not None and row.vs_raw <= 1.0
    record(row)
    record(
        h.Row(
            f"14.2 records + index memory, {lab}, full-text search off",
            "B/post",
            key=f"memory.fts_off.{lab}",
            ours=med(off, "bpp"),
            raw=plain_bpp,
            target="report",
            note=f"the full-text index costs {med(wp, 'bpp') - med(off, 'bpp'):.0f} B/post",
        )
    )
    record(
        h.Row(
            f"14.4 legacy members only (posted_tweets zsets), {lab}", "B/post", ours=legacy, target="report",
            key=f"memory.legacy.{lab}",
        )
    )
    row = h.Row(
        f"14.3a migration write path (write_records), {lab}",
        "posts/s",
        key=f"write.records.{lab}",
        ours=med(wp),
        raw=med(raw),
        higher_is_better=True,
        cpu_vs_raw=cpu(wp) / cpu(raw),
        target=">=1.0x raw",
        note=(
            f"median of {len(runs[wp])}; spread ours {spread([x.rate for x in runs[wp]])}, raw "
            f"{spread([x.rate for x in runs[raw]])}; per post: client CPU ours "
            f"{per_post(wp, 'client_cpu'):.1f} us vs raw {per_post(raw, 'client_cpu'):.1f} us, "
            f"server CPU ours {per_post(wp, 'server_cpu'):.1f} us vs raw "
            f"{per_post(raw, 'server_cpu'):.1f} us; server: ours "
            f"{m.commandstats_note(runs[wp][-1])}; raw {m.commandstats_note(runs[raw][-1])}; {load}"
        ),
    )
    row.met = row.vs_raw is not None and row.vs_raw >= 1.0
    record(row)
    record(
        h.Row(
            f"14.2 migration write path, full-text search off, {lab}",
            "posts/s",
            ours=med(off),
            raw=med(raw),
            higher_is_better=True,
            cpu_vs_raw=cpu(off) / cpu(raw),
            target="report",
            note=(
                f"FTS off/on {med(off) / med(wp):.2f}x; server CPU {per_post(off, 'server_cpu'):.1f} vs "
                f"{per_post(wp, 'server_cpu'):.1f} us/post"
            ),
        )
    )
    vmhwm = max(x.extra["vmhwm_kb"] for x in runs[e2e]) / 1024
    record(
        h.Row(
            f"14.3a migration end to end (redis-client migrate run), {lab}",
            "posts/s",
            ours=med(e2e),
            raw=med(raw),
            higher_is_better=True,
            target="report",
            note=(
                f"child process, whole run without interpreter start (wall with it "
                f"{statistics.median(x.extra['wall_with_start'] for x in runs[e2e]):.1f} s); client CPU "
                f"{per_post(e2e, 'client_cpu'):.1f} us/post (parse + write + reads), server "
                f"{per_post(e2e, 'server_cpu'):.1f} us/post; spread {spread([x.rate for x in runs[e2e]])}"
            ),
        )
    )
    row = h.Row(
        f"14.3d migration peak RSS (VmHWM of the child), {lab}",
        "MB",
        ours=vmhwm,
        target="< 100 MB at 1M" if total == LARGE else "report",
    )
    if total == LARGE:
        row.met = vmhwm < 100
    record(row)
    if total == LARGE:
        _DATA.pop(total, None)  # ~400 MB of cached members


# --------------------------------------------------------------------------------------------
# 5. Projection from the 100k and 1M slopes
# --------------------------------------------------------------------------------------------

GIB = 2**30


def test_projection() -> None:
    sizes = RESULTS["sizes"]
    if "100k" not in sizes or "1M" not in sizes:
        pytest.skip("the projection needs the 100k and the 1M runs (not with BENCH_QUICK=1)")
    small, large = sizes["100k"], sizes["1M"]
    n0, n1 = small["total"], large["total"]

    def fit(values0: list[float], values1: list[float]) -> tuple[float, float]:
        """(slope per post, intercept) through the medians at n0 and n1."""
        v0, v1 = statistics.median(values0), statistics.median(values1)
        slope = (v1 - v0) / (n1 - n0)
        return slope, v0 - slope * n0

    proj: dict[str, Any] = {"memory": {}, "time": {}, "capacity": {}}
    series = {
        "legacy members": (
            [x.extra["legacy_bytes"] for x in small["runs"]["migrate e2e"]],
            [x.extra["legacy_bytes"] for x in large["runs"]["migrate e2e"]],
        ),
    }
    for name in ("migrate e2e", "ours write path", "ours write path, FTS off", "raw plain JSON.SET"):
        series[name] = (
            [x.mem_bytes for x in small["runs"][name]],
            [x.mem_bytes for x in large["runs"][name]],
        )
    for name, (a, b) in series.items():
        slope, icpt = fit(a, b)
        proj["memory"][name] = {
            "slope_bpp": slope,
            "intercept_mb": icpt / 2**20,
            "at_10M_gib": (icpt + slope * 10_000_000) / GIB,
        }
    for name in ("migrate e2e", "ours write path", "raw plain JSON.SET"):
        slope, icpt = fit([x.wall for x in small["runs"][name]], [x.wall for x in large["runs"][name]])
        proj["time"][name] = {
            "us_per_post_marginal": slope * 1e6,
            "at_10M_min": (icpt + slope * 10_000_000) / 60,
        }
    legacy = proj["memory"]["legacy members"]["slope_bpp"]
    records = proj["memory"]["ours write path"]["slope_bpp"]
    records_off = proj["memory"]["ours write path, FTS off"]["slope_bpp"]
    for gib in (1, 8, 64):
        proj["capacity"][gib] = {
            "legacy only": gib * GIB / legacy,
            "legacy + records + index": gib * GIB / (legacy + records),
            "legacy + records + index, FTS off": gib * GIB / (legacy + records_off),
        }
    RESULTS["projection"] = proj
    mem10 = proj["memory"]
    record(
        h.Row(
            "14.4 projection: legacy + records + index at 10M posts",
            "GiB",
            ours=mem10["legacy members"]["at_10M_gib"] + mem10["ours write path"]["at_10M_gib"],
            target="report",
            note=(
                f"slopes {legacy:.0f} + {records:.0f} B/post (FTS off {records_off:.0f}); legacy alone "
                f"{mem10['legacy members']['at_10M_gib']:.2f} GiB; plain indexed JSON "
                f"{mem10['raw plain JSON.SET']['at_10M_gib']:.2f} GiB"
            ),
        )
    )
    record(
        h.Row(
            "14.4 projection: migration of 10M posts (end to end)",
            "min",
            ours=proj["time"]["migrate e2e"]["at_10M_min"],
            target="report",
            note=f"write path {proj['time']['ours write path']['at_10M_min']:.1f} min, raw plain "
            f"{proj['time']['raw plain JSON.SET']['at_10M_min']:.1f} min",
        )
    )


# --------------------------------------------------------------------------------------------
# The tables
# --------------------------------------------------------------------------------------------


def _f(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:,.{digits}f}"


def render() -> str:
    out = ["", "=" * 28 + " issue 14: memory per post, writes, migration " + "=" * 28]
    for k, v in RESULTS["context"].items():
        out.append(f"{k}: {v}")
    if RESULTS["rows"]:
        out += [
            "",
            "Targets (ours/raw: B/post and us/op lower is better, posts/s higher is better):",
            h.format_rows(RESULTS["rows"]),
        ]
    if RESULTS["ablation"]:
        rows = RESULTS["ablation"]
        ours = next(x for x in rows if x.name == "ours (default)")
        table = []
        for x in rows:
            q = x.extra.get("queries", {})
            broken = x.extra.get("broken")
            table.append(
                [
                    x.name,
                    _f(x.bpp, 1),
                    _f(x.bpp - ours.bpp, 1) if x is not ours else "",
                    _f(x.ft.get("total_index_memory_sz_mb"), 1),
                    _f(x.ft.get("inverted_sz_mb"), 1),
                    _f(x.ft.get("offset_vectors_sz_mb"), 1),
                    _f(x.ft.get("doc_table_size_mb"), 1),
                    _f(x.ft.get("sortable_values_size_mb"), 1),
                    _f(x.ft.get("tag_overhead_sz_mb"), 1),
                    _f(x.memory_usage),
                    _f(x.us(x.server_cpu), 1),
                    _f(x.usec_per_call("json.set"), 1),
                    _f(q.get("sorted_ms"), 2),
                    ", ".join(broken) if broken else ("-" if broken is None else "none"),
                ]
            )
        out += [
            "",
            "Index ablation at 100k (fresh server each; packed JSON.SET of the product's record bytes; "
            "B/post = used_memory delta / posts; FT.INFO columns per post):",
            m.table(
                [
                    "variant",
                    "B/post",
                    "vs ours",
                    "FT.INFO total",
                    "inverted",
                    "offsets",
                    "doc table",
                    "sortable",
                    "tag ovh",
                    "MEMORY USAGE/rec",
                    "server us/post (1 run)",
                    "json.set us",
                    "sender newest-100 ms",
                    "queries that change",
                ],
                table,
                left=(0, 13),
            ),
        ]
        out.append("Which query needs each field: " + "; ".join(f"{k}: {v}" for k, v in NEEDED_BY.items()))
        aq = RESULTS.get("ablation_queries", {})
        if aq:
            out.append(
                "Query checks (count with our index): "
                + "; ".join(f"{k} `{aq['queries'][k]}` = {aq['reference'][k]}" for k in aq["queries"])
            )
    for lab, size in RESULTS["sizes"].items():
        table = []
        for name, runs in size["runs"].items():
            x = runs[0]
            table.append(
                [
                    name,
                    len(runs),
                    _f(statistics.median(r.rate for r in runs)),
                    spread([r.rate for r in runs]),
                    _f(statistics.median(r.bpp for r in runs), 1),
                    _f(statistics.median(r.extra["legacy_bytes"] for r in runs) / x.posts, 1)
                    if "legacy_bytes" in x.extra
                    else "",
                    _f(x.ft.get("total_index_memory_sz_mb"), 1),
                    _f(x.memory_usage),
                    _f(sum(r.client_cpu for r in runs) / (x.posts * len(runs)) * 1e6, 1),
                    _f(sum(r.server_cpu for r in runs) / (x.posts * len(runs)) * 1e6, 1),
                    _f(x.usec_per_call("json.set"), 1),
                    _f(x.usec_per_post("evalsha"), 1),
                    _f(x.extra.get("vmhwm_kb", float("nan")) / 1024, 0),
                ]
            )
        out += [
            "",
            f"{lab} posts ({size['total'] // POSTS_PER_ACCOUNT} accounts; {size['load']}; "
            f"data generated in {size['generate_s']:.0f} s):",
            m.table(
                [
                    "variant",
                    "runs",
                    "posts/s",
                    "spread",
                    "records+index B/post",
                    "legacy B/post",
                    "FT.INFO B/post",
                    "MEMORY USAGE/rec",
                    "client CPU us/post",
                    "server CPU us/post",
                    "json.set us/call",
                    "evalsha us/post",
                    "peak RSS MB",
                ],
                table,
            ),
        ]
    proj = RESULTS.get("projection")
    if proj:
        out += ["", "Projection (straight line through the 100k and 1M medians):"]
        out.append(
            m.table(
                ["memory", "marginal B/post", "fixed MB", "at 10M GiB"],
                [
                    [k, _f(v["slope_bpp"], 1), _f(v["intercept_mb"], 1), _f(v["at_10M_gib"], 2)]
                    for k, v in proj["memory"].items()
                ],
            )
        )
        out.append(
            m.table(
                ["time", "marginal us/post", "at 10M minutes"],
                [
                    [k, _f(v["us_per_post_marginal"], 1), _f(v["at_10M_min"], 1)]
                    for k, v in proj["time"].items()
                ],
            )
        )
        out.append(
            m.table(
                ["used_memory budget", "legacy only", "legacy + records + index", "same, FTS off"],
                [
                    [
                        f"{g} GiB",
                        _f(v["legacy only"] / 1e6, 2) + "M",
                        _f(v["legacy + records + index"] / 1e6, 2) + "M",
                        _f(v["legacy + records + index, FTS off"] / 1e6, 2) + "M",
                    ]
                    for g, v in proj["capacity"].items()
                ],
            )
        )
        out.append(
            "(used_memory only: leave headroom for fragmentation (RSS/used_memory), client buffers and "
            "the copy-on-write of BGSAVE/AOF rewrites)"
        )
    return "\n".join(out)
