"""The plots of docs/performance.md: the results file they are drawn from parses and holds every
figure they show, the PNGs the page shows exist, and the script draws them again (with the
``bench`` extra's matplotlib; skipped without it)."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "performance" / "results.json"
SCRIPT = ROOT / "tools" / "plot_benchmarks.py"
PNG = b"\x89PNG\r\n\x1a\n"


def _script() -> object:
    spec = importlib.util.spec_from_file_location("plot_benchmarks", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_results_file_holds_every_plotted_figure_with_its_source() -> None:
    results = json.loads(RESULTS.read_text())
    assert results["source"] and re.fullmatch(r"\d{4}-\d{2}-\d{2}", results["date"])
    rows = {row["key"]: row for row in results["rows"]}
    plot = _script()
    for key, _ in plot.WRITES + plot.READS:  # type: ignore[attr-defined]
        assert rows[key]["ours"] > 0 and rows[key]["raw"] > 0, key
    for kind in ("memory", "memory.fts_off", "memory.legacy"):
        for size in plot.SIZES:  # type: ignore[attr-defined]
            assert rows[f"{kind}.{size}"]["unit"] == "B/post"
    assert rows["memory.100k"]["ours"] < rows["memory.100k"]["raw"]  # the figure the page quotes
    lag = results["distributions"]["follower_lag_ms"]
    assert lag["p50"] < lag["p99"] < lag["max"]


def test_the_performance_page_shows_the_plots() -> None:
    page = (ROOT / "docs" / "performance.md").read_text()
    images = re.findall(r"!\[[^\]]+\]\(([^)]+\.png)\)", page)
    assert sorted(images) == [f"performance/{name}.png" for name in ("follower-lag", "memory", "ratios")]
    for image in images:
        assert (ROOT / "docs" / image).read_bytes().startswith(PNG), image


def test_the_script_draws_the_plots(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the bench extra (matplotlib) is not installed")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(RESULTS), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    drawn = sorted(p.name for p in tmp_path.iterdir())
    assert drawn == ["follower-lag.png", "memory.png", "ratios.png"]
    for name in drawn:
        assert (tmp_path / name).read_bytes().startswith(PNG)
        assert (tmp_path / name).stat().st_size > 10_000


def test_matplotlib_is_never_a_runtime_dependency() -> None:
    from importlib.metadata import requires

    declared = requires("twitter-agent-redis") or []
    runtime = [r for r in declared if "extra ==" not in r]
    assert not [r for r in runtime if r.lower().startswith("matplotlib")]
    assert any(r.startswith("matplotlib") and 'extra == "bench"' in r for r in declared)
