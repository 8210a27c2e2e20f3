"""Draw the plots of ``docs/performance.md`` from a benchmark results file.

    pip install -e '.[bench]'
    python tools/plot_benchmarks.py                        # docs/performance/results.json -> its PNGs
    BENCH_RESULTS_JSON=/tmp/r.json pytest -m benchmark tests/benchmarks
    python tools/plot_benchmarks.py /tmp/r.json --out /tmp/plots

The results file is what ``tests/benchmarks`` writes (``BENCH_RESULTS_JSON``): rows keyed by
``key``, and distributions such as the follower's lag samples. The checked-in
``docs/performance/results.json`` holds the figures the docs quote, with their source and date.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "performance" / "results.json"
SIZES = ("100k", "1M")
#: Rows compared with raw redis-py doing the same Redis work: (key, label).
WRITES = [
    ("write.add_user_post", "add_user_post, 1 post/call"),
    ("write.add_user_posts.objects", "add_user_posts, 30k Posts"),
    ("write.add_user_posts.dicts", "add_user_posts, 30k dicts"),
    ("async.add_user_post", "await add_user_post, 32 coroutines"),
    ("write.add_user_post.plain", "add_user_post vs plain index"),
    ("write.add_user_posts.plain", "add_user_posts vs plain index"),
    ("write.records.100k", "migration writes, 100k, vs plain"),
    ("write.records.1M", "migration writes, 1M, vs plain"),
]
READS = [
    ("read.get_user_posts.10k", "get_user_posts, 10k posts"),
    ("read.get_user_posts.30k", "get_user_posts, 30k posts"),
    ("read.find.100k", "find newest 100, 100k posts"),
    ("read.find.1M", "find newest 100, 1M posts"),
]
COLOURS = {True: "#2e7d32", False: "#ef6c00", None: "#757575"}
#: PNG metadata without the library's version: the same results draw the same files.
PNG_METADATA: dict[str, Any] = {"Software": None}


def load(path: Path) -> dict[str, Any]:
    results: dict[str, Any] = json.loads(path.read_text())
    return results


def rows_by_key(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in results["rows"] if row.get("key")}


def speed_vs_raw(row: dict[str, Any]) -> float:
    """How many times raw's speed ours is (> 1: faster than raw), whatever the row's unit."""
    ratio = float(row["ours"]) / float(row["raw"])
    return ratio if row["higher_is_better"] else 1 / ratio


def _caption(fig: Any, results: dict[str, Any]) -> None:
    fig.text(0.01, 0.005, f"measured {results.get('date', '?')}; see docs/performance.md",
             fontsize=7, color="#555555")


def plot_memory(results: dict[str, Any], out: Path) -> Path:
    import matplotlib.pyplot as plt

    rows = rows_by_key(results)
    series = [
        ("legacy members only", [rows[f"memory.legacy.{s}"]["ours"] for s in SIZES], "#90a4ae"),
        ("records + index (ours)", [rows[f"memory.{s}"]["ours"] for s in SIZES], "#1565c0"),
        ("ours, full-text search off", [rows[f"memory.fts_off.{s}"]["ours"] for s in SIZES], "#64b5f6"),
        ("plain indexed JSON", [rows[f"memory.{s}"]["raw"] for s in SIZES], "#ef6c00"),
    ]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    width = 0.2
    for i, (label, values, colour) in enumerate(series):
        xs = [x + (i - 1.5) * width for x in range(len(SIZES))]
        bars = ax.bar(xs, values, width, label=label, color=colour)
        ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=7, padding=2)
    ax.set_xticks(range(len(SIZES)), [f"{s} posts" for s in SIZES])
    ax.set_ylabel("bytes per post (used_memory)")
    ax.set_title("Server memory per post: our records + index against plain indexed JSON")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_ylim(0, max(max(v) for _, v, _ in series) * 1.15)
    _caption(fig, results)
    fig.tight_layout()
    path = out / "memory.png"
    fig.savefig(path, dpi=110, metadata=PNG_METADATA)
    plt.close(fig)
    return path


def plot_ratios(results: dict[str, Any], out: Path) -> Path:
    import matplotlib.pyplot as plt

    rows = rows_by_key(results)
    fig, axes = plt.subplots(2, 1, figsize=(7.5, 6.2), height_ratios=[len(WRITES), len(READS)])
    widest = max([speed_vs_raw(rows[key]) for key, _ in WRITES + READS if key in rows] + [1.0])
    for ax, (title, chosen) in zip(axes, (("writes", WRITES), ("reads", READS)), strict=True):
        present = [(rows[key], label) for key, label in chosen if key in rows]
        speeds = [speed_vs_raw(row) for row, _ in present]
        ys = range(len(present))[::-1]
        ax.barh(list(ys), speeds, color=[COLOURS[row.get("met")] for row, _ in present])
        for y, speed in zip(ys, speeds, strict=True):
            ax.text(speed + 0.01, y, f"{speed:.2f}×", va="center", fontsize=8)
        ax.set_yticks(list(ys), [label for _, label in present], fontsize=8)
        ax.axvline(1.0, color="black", linewidth=1)
        ax.set_xlim(0, widest * 1.18)
        ax.set_title(f"{title}: speed relative to raw redis-py (1 = raw; right of it, faster)", fontsize=9)
    axes[-1].set_xlabel("green: target met, orange: missed (targets in the tables)", fontsize=8)
    _caption(fig, results)
    fig.tight_layout()
    path = out / "ratios.png"
    fig.savefig(path, dpi=110, metadata=PNG_METADATA)
    plt.close(fig)
    return path


def plot_lag(results: dict[str, Any], out: Path) -> Path:
    import matplotlib.pyplot as plt

    lag = results["distributions"]["follower_lag_ms"]
    marks = {"p50": lag["p50"], "p99": lag["p99"], "max": lag["max"]}
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    samples = lag.get("samples") or []
    if samples:
        low, high = max(min(samples), 0.1), max(samples)
        bins = [low * (high / low) ** (i / 40) for i in range(41)]
        ax.hist(samples, bins=bins, color="#1565c0")
        ax.set_xscale("log")
        ax.set_ylabel("writes")
        top = ax.get_ylim()[1]
        for i, (name, value) in enumerate(marks.items()):  # labels one under the other
            ax.axvline(value, color="#ef6c00", linestyle="--", linewidth=1)
            ax.text(value, top * (0.92 - 0.1 * i), f" {name} {value:.1f} ms", fontsize=8)
    else:  # only the summary was recorded: its percentiles
        bars = ax.barh(list(marks)[::-1], list(marks.values())[::-1], color="#1565c0")
        ax.bar_label(bars, labels=[f"{v:g} ms" for v in list(marks.values())[::-1]], fontsize=8, padding=3)
        ax.axvline(1000, color="#ef6c00", linestyle="--", linewidth=1)
        ax.text(1000, 2.3, "target: p99 ≤ 1 s ", ha="right", fontsize=8, color="#ef6c00")
        ax.set_xscale("log")
        ax.set_xlim(1, 2000)
    ax.set_xlabel("lag from a raw ZADD to its Post record (ms, log scale)")
    ax.set_title(f"The follower's lag at {lag.get('rate_per_s', 0):,} writes/s")
    _caption(fig, results)
    fig.tight_layout()
    path = out / "follower-lag.png"
    fig.savefig(path, dpi=110, metadata=PNG_METADATA)
    plt.close(fig)
    return path


def plot_all(results: dict[str, Any], out: Path) -> list[Path]:
    """Every plot whose figures the results hold (a partial benchmark run draws fewer)."""
    import matplotlib

    matplotlib.use("Agg")
    out.mkdir(parents=True, exist_ok=True)
    rows = rows_by_key(results)
    drawn = []
    memory = [f"{kind}.{size}" for kind in ("memory", "memory.fts_off", "memory.legacy") for size in SIZES]
    if all(key in rows for key in memory):
        drawn.append(plot_memory(results, out))
    if any(key in rows for key, _ in WRITES + READS):
        drawn.append(plot_ratios(results, out))
    if "follower_lag_ms" in results.get("distributions", {}):
        drawn.append(plot_lag(results, out))
    return drawn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="?", type=Path, default=RESULTS, help=f"default {RESULTS}")
    parser.add_argument("--out", type=Path, default=RESULTS.parent, help="where the PNGs go")
    args = parser.parse_args(argv)
    for path in plot_all(load(args.results), args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
