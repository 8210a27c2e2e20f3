"""Timing, synthetic data, fast seeding and the results table of the benchmark suite.

Everything here is test code: it never changes what the project writes, it only measures it.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import redis

from redis_client.core import keys
from redis_client.core.codec import POST_MEMBER_FIELDS, post_member

#: Set to 1 to skip the 1M-post cases (a quick run of everything else).
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")

# --------------------------------------------------------------------------------------------
# Synthetic posts
# --------------------------------------------------------------------------------------------

_VOCABULARY = (
    "just shipped new release agents redis crypto market launch today thread community update "
    "building open source models data pipeline latency throughput thanks everyone amazing "
    "week roadmap partnership announcement ai onchain wallet token governance vote proposal "
    "live"
)
_WORDS = tuple(_VOCABULARY.split())

_id_counter = 1_700_000_000_000_000_000  # tweet-like 19-digit ids, unique per process


def new_id() -> str:
    global _id_counter
    _id_counter += 1
    return str(_id_counter)


def post_fields(username: str, timestamp: int, i: int, post_id: str | None = None) -> dict[str, Any]:
    """A realistic post as the 7 legacy fields (text ~100-140 chars, some quotes and replies)."""
    n = len(_WORDS)
    words = [_WORDS[(i * 7 + k * 13 + (i >> 3)) % n] for k in range(14 + i % 6)]
    return {
        "id": post_id or new_id(),
        "text": " ".join(words) + f" #{i % 97}",
        "sender_username": username,
        "timestamp": timestamp,
        "quoted_tweet_id": new_id() if i % 11 == 0 else None,
        "is_reply_to": new_id() if i % 7 == 0 else None,
        "is_news_summary_tweet": i % 13 == 0,
    }


def make_posts(username: str, n: int, start_ts: int = 1_650_000_000) -> list[dict[str, Any]]:
    """``n`` posts of ``username``, one second apart, oldest first."""
    return [post_fields(username, start_ts + i, i) for i in range(n)]


def member_of(fields: dict[str, Any]) -> str:
    """The legacy member (the project's codec: plain ``json.dumps`` of the 7 fields)."""
    return post_member(fields)


def document_of(fields: dict[str, Any], accounts: list[str]) -> str:
    """The record JSON exactly as ``add_user_post`` writes it (checked in the tests)."""
    data = {name: fields[name] for name in POST_MEMBER_FIELDS}
    data["accounts"] = accounts
    return json.dumps(data)


def record_key(post_id: str) -> str:
    return keys.model_key(keys.POST_PREFIX, post_id)


# --------------------------------------------------------------------------------------------
# Fast seeding: hand-packed RESP on one connection, in chunks (the server is the bottleneck)
# --------------------------------------------------------------------------------------------


def _pack(*args: str | bytes | int) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode()
        elif isinstance(arg, int):
            arg = b"%d" % arg
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


def send_commands(client: redis.Redis, commands: Iterable[tuple[Any, ...]], chunk: int = 2000) -> int:
    """Send commands pipelined without redis-py's per-command overhead; raise on any error reply.

    Returns the number of commands sent.
    """
    conn = client.connection_pool.get_connection()
    sent = 0
    try:
        buf: list[bytes] = []

        def flush() -> None:
            conn.send_packed_command([b"".join(buf)], check_health=False)
            for _ in range(len(buf)):
                reply = conn.read_response()
                if isinstance(reply, Exception):
                    raise reply
            buf.clear()

        for cmd in commands:
            buf.append(_pack(*cmd))
            sent += 1
            if len(buf) >= chunk:
                flush()
        if buf:
            flush()
    except BaseException:
        conn.disconnect()  # unread replies would poison the next user of this connection
        raise
    finally:
        client.connection_pool.release(conn)
    return sent


def seed_account_commands(
    username: str, n: int, start_ts: int, records: bool = True, legacy: bool = True
) -> Iterator[tuple[Any, ...]]:
    """Commands that store ``n`` posts of ``username``: one ZADD per 1000 members + JSON.SET each."""
    zkey = keys.posted_tweets(username)
    accounts_suffix = ', "accounts": ' + json.dumps([username]) + "}"
    zargs: list[Any] = []
    for i in range(n):
        fields = post_fields(username, start_ts + i, i)
        member = member_of(fields)
        if legacy:
            zargs += [fields["timestamp"], member]
            if len(zargs) >= 2000:
                yield ("ZADD", zkey, *zargs)
                zargs = []
        if records:
            # == document_of(fields, [username]): json.dumps of the same dict with one more key.
            yield ("JSON.SET", record_key(fields["id"]), "$", member[:-1] + accounts_suffix)
    if zargs:
        yield ("ZADD", zkey, *zargs)


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------


#: The server process (psutil), set by the session fixture: its CPU time is measured too.
SERVER_PROC: Any = None


def _server_cpu() -> float:
    if SERVER_PROC is None:
        return 0.0
    try:
        t = SERVER_PROC.cpu_times()
        return float(t.user + t.system)
    except Exception:  # noqa: BLE001 - the server is gone: no CPU figure
        return 0.0


class Stopwatch:
    """``with sw: ...`` adds the block's wall time, this process's CPU time and the server's.

    A variant times only its own work with it. CPU times (client + server) are what the work
    costs whatever else runs on the machine; wall time is what callers wait.
    """

    def __init__(self, collect: bool = True, server: Any = None) -> None:
        self.elapsed = 0.0
        self.cpu = 0.0
        self.server_cpu = 0.0
        self.collect = collect
        #: The server process (psutil) to measure; None: the session's (``SERVER_PROC``).
        self.server = server

    def _server_now(self) -> float:
        if self.server is None:
            return _server_cpu()
        t = self.server.cpu_times()
        return float(t.user + t.system)

    def __enter__(self) -> Stopwatch:
        if self.collect:  # start every long measurement from the same garbage state
            gc.collect()
        self._s0 = self._server_now()
        self._c0 = time.process_time()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed += time.perf_counter() - self._t0
        self.cpu += time.process_time() - self._c0
        self.server_cpu += self._server_now() - self._s0

    @property
    def total_cpu(self) -> float:
        return self.cpu + self.server_cpu


def interleaved(
    rounds: int, variants: dict[str, Callable[[int], Stopwatch | None]]
) -> dict[str, list[Stopwatch]]:
    """Run every variant once per round, rotating the order so drift hits all alike.

    Each variant does its untimed setup and cleanup itself and returns its ``Stopwatch``
    (None: not measured this round).
    """
    names = list(variants)
    out: dict[str, list[Stopwatch]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            sw = variants[name](r)
            if sw is not None:
                out[name].append(sw)
    return out


def walls(sws: list[Stopwatch]) -> list[float]:
    return [sw.elapsed for sw in sws]


def cpu_per_run(sws: list[Stopwatch]) -> float:
    """Mean client + server CPU seconds of one run (summed first: the server's clock ticks are
    coarse, 10 ms, so only the sum over many runs is meaningful)."""
    return sum(sw.total_cpu for sw in sws) / len(sws)


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(sws: list[Stopwatch]) -> str:
    """Half the range of the rounds' wall times relative to their median: a noise indicator."""
    values = walls(sws)
    if len(values) < 2:
        return ""
    return f"±{(max(values) - min(values)) / 2 / statistics.median(values) * 100:.0f}%"


# --------------------------------------------------------------------------------------------
# Results table
# --------------------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    unit: str
    ours: float | None
    raw: float | None = None
    naive: float | None = None
    #: ours/raw (time: lower is better; throughput: higher is better) - see ``higher_is_better``.
    higher_is_better: bool = False
    target: str = ""
    met: bool | None = None
    note: str = ""
    #: client + server CPU seconds of ours / of raw for the same work (lower is better).
    cpu_vs_raw: float | None = None
    #: Names the row in the results JSON for ``tools/plot_benchmarks.py`` (rows it plots).
    key: str = ""

    @property
    def vs_raw(self) -> float | None:
        if self.ours is None or not self.raw:
            return None
        return self.ours / self.raw

    @property
    def naive_over_ours(self) -> float | None:
        """How many times faster than naive redis-om we are (>1: faster)."""
        if self.ours is None or not self.naive:
            return None
        return self.ours / self.naive if self.higher_is_better else self.naive / self.ours


RESULTS: list[Row] = []
CONTEXT: dict[str, str] = {}
#: Distributions for the plots (e.g. ``follower_lag_ms``: percentiles and samples).
DISTRIBUTIONS: dict[str, dict[str, Any]] = {}


def record(row: Row) -> Row:
    RESULTS.append(row)
    print(f"\n[bench] {format_rows([row])}", flush=True)
    return row


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def format_rows(rows: list[Row]) -> str:
    header = (
        "benchmark",
        "unit",
        "ours",
        "raw",
        "naive",
        "ours/raw",
        "naive-vs-ours",
        "cpu ours/raw",
        "target",
        "met?",
    )
    table = [header]
    for row in rows:
        met = "-" if row.met is None else ("yes" if row.met else "NO")
        table.append(
            (
                row.name,
                row.unit,
                _num(row.ours),
                _num(row.raw),
                _num(row.naive),
                _ratio(row.vs_raw),
                _ratio(row.naive_over_ours),
                _ratio(row.cpu_vs_raw),
                row.target,
                met,
            )
        )
    widths = [max(len(str(r[i])) for r in table) for i in range(len(header))]
    lines = []
    for k, r in enumerate(table):
        lines.append(
            "  ".join(
                str(c).ljust(w) if i in (0, 1, 8) else str(c).rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = [f"  * {row.name}: {row.note}" for row in rows if row.note]
    return "\n".join(lines + notes)


def machine_description(client: redis.Redis | None = None) -> str:
    cpu = "?"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
    except OSError:
        pass
    parts = [
        f"{os.cpu_count()} CPU ({cpu})",
        f"Python {platform.python_version()} ({platform.machine()}, {platform.system()})",
    ]
    try:
        from importlib.metadata import version

        import pydantic

        parts.append(
            f"redis-py {redis.__version__}, redis-om {version('redis-om')}, "
            f"pydantic {pydantic.VERSION}, hiredis {'yes' if _has_hiredis() else 'no'}"
        )
    except Exception:  # noqa: BLE001 - description only
        pass
    if client is not None:
        info = client.info("server")
        parts.append(f"Redis {info['redis_version']} (embedded, AOF off, same host)")
    return "; ".join(parts)


def _has_hiredis() -> bool:
    try:
        import hiredis  # noqa: F401

        return True
    except ImportError:
        return False


def results_json() -> dict[str, Any]:
    """Every row and distribution of this run, in the shape ``tools/plot_benchmarks.py`` reads."""
    from dataclasses import asdict

    return {
        "source": f"pytest -m benchmark tests/benchmarks (BENCH_QUICK={int(QUICK)}), this run",
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "context": dict(CONTEXT),
        "rows": [asdict(row) for row in RESULTS],
        "distributions": DISTRIBUTIONS,
    }


def summary() -> str:
    lines = ["", "=" * 30 + " redis-client benchmarks " + "=" * 30]
    for k, v in CONTEXT.items():
        lines.append(f"{k}: {v}")
    lines.append(
        "ours/raw: wall-time ratio for latencies (lower is better), throughput ratio for posts/s "
        "(higher is better); naive-vs-ours: how many times faster than naive redis-om we are; "
        "cpu ours/raw: client + server CPU seconds for the same work (lower is better; robust "
        "when other processes share the machine). met? is judged on the wall-time medians."
    )
    lines.append("")
    lines.append(format_rows(RESULTS))
    return "\n".join(lines)


def python_cmd() -> list[str]:
    return [sys.executable]


def index_num_docs(client: redis.Redis, index: str) -> int:
    """``num_docs`` of FT.INFO (redis-py may already have parsed the reply into a dict)."""
    info = client.execute_command("FT.INFO", index)
    if not isinstance(info, dict):
        info = dict(zip(info[::2], info[1::2], strict=False))
    value = info.get(b"num_docs", info.get("num_docs"))
    assert value is not None, "FT.INFO without num_docs"
    return int(value)


def search_docs(reply: Any) -> list[bytes]:
    """The JSON documents of an FT.SEARCH reply, RESP3 (dict) or RESP2 (flat list)."""
    docs: list[bytes] = []
    if isinstance(reply, dict):
        results: Any = reply.get(b"results", reply.get("results", []))
        for res in results:
            attributes: Any = res.get(b"extra_attributes", res.get("extra_attributes", {}))
            docs.append(attributes.get(b"$", attributes.get("$")))
        return docs
    for fields in reply[2::2]:
        pairs: Any = dict(zip(fields[::2], fields[1::2], strict=False))
        docs.append(pairs.get(b"$", pairs.get("$")))
    return docs


# --------------------------------------------------------------------------------------------
# asyncio helpers (test_5_async): load average, event-loop ticker, server command statistics
# --------------------------------------------------------------------------------------------


def loadavg() -> str:
    """``os.getloadavg()`` as ``1/5/15``-minute text (what the machine did besides the benchmark)."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "?"
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


class LoopTicker:
    """An asyncio task that sleeps ``period`` in a loop and records when it wakes up.

    The gap between two wake-ups is ``period`` plus how late the loop was to run the ticker: any
    callback that holds the loop (a blocking call, a long stretch of ready tasks) shows up as a
    gap. ``await ticker.start()`` starts it; ``await ticker.stop()`` ends it.
    """

    def __init__(self, period: float = 0.005) -> None:
        self.period = period
        self.ticks: list[float] = []
        self._stopped = False
        self._task: Any = None

    async def _run(self) -> None:
        import asyncio

        self.ticks.append(time.perf_counter())
        while not self._stopped:
            await asyncio.sleep(self.period)
            self.ticks.append(time.perf_counter())

    async def start(self, settle: float = 0.02) -> None:
        import asyncio

        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(settle)  # the ticker is in its rhythm before the work starts

    async def stop(self) -> None:
        self._stopped = True
        await self._task

    def gaps(self, t0: float, t1: float) -> list[float]:
        """Gaps (seconds between wake-ups) of the intervals that overlap ``[t0, t1]``."""
        return [b - a for a, b in zip(self.ticks, self.ticks[1:], strict=False) if b > t0 and a < t1]


def lateness_stats(gaps: list[float], period: float) -> dict[str, float]:
    """Worst gap, worst lateness (gap - period) and p99 lateness, in milliseconds; tick count."""
    if not gaps:
        nan = float("nan")
        return {"max_gap_ms": nan, "max_late_ms": nan, "p99_late_ms": nan, "ticks": 0.0}
    late = sorted(max(g - period, 0.0) for g in gaps)
    p99 = statistics.quantiles(late, n=100, method="inclusive")[98] if len(late) >= 2 else late[0]
    return {
        "max_gap_ms": max(gaps) * 1e3,
        "max_late_ms": late[-1] * 1e3,
        "p99_late_ms": p99 * 1e3,
        "ticks": float(len(gaps)),
    }


def command_stats(client: redis.Redis) -> dict[str, tuple[int, int]]:
    """Server ``INFO commandstats``: command -> (calls, usec). Commands run by a script count both
    on their own line and inside EVALSHA's usec."""
    out: dict[str, tuple[int, int]] = {}
    for name, stats in client.info("commandstats").items():
        if isinstance(stats, dict):
            out[str(name).removeprefix("cmdstat_")] = (int(stats["calls"]), int(stats["usec"]))
    return out


def stats_delta(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]
) -> dict[str, tuple[int, int]]:
    out = {}
    for name, (calls, usec) in after.items():
        c0, u0 = before.get(name, (0, 0))
        if calls - c0:
            out[name] = (calls - c0, usec - u0)
    return out


def add_stats(total: dict[str, list[int]], delta: dict[str, tuple[int, int]]) -> None:
    for name, (calls, usec) in delta.items():
        acc = total.setdefault(name, [0, 0])
        acc[0] += calls
        acc[1] += usec


def describe_stats(total: dict[str, list[int]], posts: int, names: Iterable[str]) -> str:
    """``name usec/call (calls/post)`` for the given commands, and their usec per post summed."""
    parts = []
    usec = 0
    for name in names:
        if name in total:
            calls, u = total[name]
            parts.append(f"{name} {u / calls:.1f}us x{calls / posts:.0f}")
            usec += u
    return f"{', '.join(parts)} = {usec / posts:.1f} us/post" if parts else "-"


class GCPauses:
    """``with GCPauses() as g:`` records the cyclic GC's pauses (seconds, generation) in the block:
    a full collection holds the event loop like any other blocking call."""

    def __init__(self) -> None:
        self.pauses: list[tuple[float, int]] = []
        self._t0 = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.pauses.append((time.perf_counter() - self._t0, int(info["generation"])))

    def __enter__(self) -> GCPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    @property
    def worst_ms(self) -> float:
        return max((p for p, _ in self.pauses), default=0.0) * 1e3
