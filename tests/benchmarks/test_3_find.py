"""Model query: the newest 100 posts of one account among 100k and 1M posts.

The queried account always holds ``TARGET_POSTS`` posts; the other posts belong to other
accounts of the same size, so only the total grows between the two cases. The data is seeded
with raw pipelined JSON.SET (records exactly as ``add_user_post`` writes them) and ZADD
(legacy members), through hand-packed RESP: the server's indexing is the limit, not the client.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import pytest

from redis_client import translate
from redis_client.core import keys
from redis_client.models import Post

from . import _harness as h

pytestmark = pytest.mark.benchmark

TARGET = "bench_target"
TARGET_POSTS = 1000
FILLER_POSTS = 1000
QUERIES = 300  # per variant, interleaved one by one
LIMIT = 100
START_TS = 1_600_000_000

_state: dict[str, Any] = {"seeded": 0, "median_ms": {}}


def _seed_to(bench: Any, total: int) -> None:
    """Grow the data set to ``total`` posts (the first call starts from an empty keyspace)."""
    if _state["seeded"] == 0:
        bench.fresh()
        h.send_commands(bench.r, h.seed_account_commands(TARGET, TARGET_POSTS, START_TS))
        _state["seeded"] = TARGET_POSTS
        # The seeded record is byte for byte what the project writes.
        member = bench.r.zrange(keys.posted_tweets(TARGET), 0, 0)[0].decode()
        fields = json.loads(member)
        post = Post(**fields)
        assert member == translate.member_of(post)
        assert json.loads(bench.r.execute_command("JSON.GET", h.record_key(post.id))) == json.loads(
            translate.document_from_member(translate.member_of(post), translate.accounts_suffix([TARGET]))
        )
    t0 = time.perf_counter()
    added = 0
    while _state["seeded"] < total:
        account = _state["seeded"] // FILLER_POSTS
        user = f"bench_filler_{account:05d}"
        h.send_commands(bench.r, h.seed_account_commands(user, FILLER_POSTS, START_TS + account))
        _state["seeded"] += FILLER_POSTS
        added += FILLER_POSTS
    if added:
        took = time.perf_counter() - t0
        print(f"\n[bench] seeded {added:,} posts in {took:.1f}s ({added / took:,.0f} posts/s)")
    indexed = h.index_num_docs(bench.r, Post._meta.index_name)
    assert indexed == total, f"index holds {indexed} records, expected {total}"


@pytest.mark.parametrize("total", [100_000, 1_000_000], ids=["100k", "1M"])
def test_find_newest_100(bench: Any, total: int) -> None:
    if total > 100_000 and h.QUICK:
        pytest.skip("BENCH_QUICK=1: the 1M case is skipped")
    _seed_to(bench, total)
    r = bench.r
    index = Post._meta.index_name
    zkey = keys.posted_tweets(TARGET)
    newest_ts = START_TS + TARGET_POSTS - 1

    def ours(rnd: int) -> h.Stopwatch:
        with h.Stopwatch(collect=False) as sw:
            posts = Post.find(Post.sender_username == TARGET).sort_by("-timestamp").page(0, LIMIT)
        assert len(posts) == LIMIT and posts[0].timestamp == newest_ts
        return sw

    def raw(rnd: int) -> h.Stopwatch:
        with h.Stopwatch(collect=False) as sw:
            res = r.execute_command(
                "FT.SEARCH",
                index,
                f"@sender_username:{{{TARGET}}}",
                "LIMIT",
                "0",
                str(LIMIT),
                "SORTBY",
                "timestamp",
                "DESC",
            )
            docs = [json.loads(doc) for doc in h.search_docs(res)]
        assert len(docs) == LIMIT and docs[0]["timestamp"] == newest_ts
        return sw

    def legacy(rnd: int) -> h.Stopwatch:
        # Reference only: the classic callers' path, the account's own sorted set.
        with h.Stopwatch(collect=False) as sw:
            docs = [json.loads(m) for m in r.zrange(zkey, 0, LIMIT - 1, desc=True)]
        assert len(docs) == LIMIT and docs[0]["timestamp"] == newest_ts
        return sw

    for _ in range(20):  # warm-up
        ours(0), raw(0), legacy(0)
    times = h.interleaved(QUERIES, {"ours": ours, "raw": raw, "legacy": legacy})
    ms = {k: h.median(h.walls(v)) * 1e3 for k, v in times.items()}
    p95 = {k: statistics.quantiles(h.walls(v), n=20)[-1] * 1e3 for k, v in times.items()}
    _state["median_ms"][total] = ms["ours"]

    label = "100k" if total == 100_000 else f"{total // 1_000_000}M"
    row = h.Row(
        f"4. find newest {LIMIT} of 1 account, {label} total",
        "ms",
        key=f"read.find.{label}",
        ours=ms["ours"],
        raw=ms["raw"],
        cpu_vs_raw=h.cpu_per_run(times["ours"]) / h.cpu_per_run(times["raw"]),
        target="<=10 ms median",
        met=ms["ours"] <= 10.0,
        note=(
            f"median of {QUERIES} queries; p95 ours {p95['ours']:.2f} ms, raw {p95['raw']:.2f} ms; "
            f"raw = FT.SEARCH + json.loads; legacy ZRANGE REV 0..99 + json.loads "
            f"{ms['legacy']:.2f} ms (reference)"
        ),
    )
    h.record(row)
    small = _state["median_ms"].get(100_000)
    if total > 100_000 and small:
        growth = ms["ours"] / small
        h.record(
            h.Row(
                f"4b. find: median {label} / median 100k",
                "x",
                ours=growth,
                target="flat: <=1.5x",
                met=growth <= 1.5,
            )
        )
