"""Reads: ``db.get_user_posts`` of 10k and 30k posts, against raw ZRANGE + json.loads."""

from __future__ import annotations

import json
from typing import Any

import pytest

from redis_client.core import keys
from redis_client.models import Post

from . import _harness as h

pytestmark = pytest.mark.benchmark

ROUNDS = 11
NAIVE_ROUNDS = 3  # find().all() of 30k is slow; fewer rounds keep the suite short


@pytest.mark.parametrize("size", [10_000, 30_000])
def test_get_user_posts(bench: Any, size: int) -> None:
    r, db = bench.r, bench.db
    user = f"bench_reader_{size // 1000}k"
    zkey = keys.posted_tweets(user)
    if not r.exists(zkey):
        h.send_commands(r, h.seed_account_commands(user, size, 1_600_000_000))
    assert r.zcard(zkey) == size

    def ours(rnd: int) -> h.Stopwatch:
        with h.Stopwatch() as sw:
            posts = db.get_user_posts(user)
        assert len(posts) == size and isinstance(posts[-1], Post)
        return sw

    def raw(rnd: int) -> h.Stopwatch:
        with h.Stopwatch() as sw:
            posts = [json.loads(m) for m in r.zrange(zkey, 0, -1)]
        assert len(posts) == size
        return sw

    def naive(rnd: int) -> h.Stopwatch | None:
        if rnd >= NAIVE_ROUNDS:
            return None
        # redis-om's way to read an account's history: a query, paged by 1000 under the hood.
        with h.Stopwatch() as sw:
            posts = Post.find(Post.sender_username == user).sort_by("timestamp").all()
        assert len(posts) == size
        return sw

    # Same content whichever way it is read (oldest first).
    mine = db.get_user_posts(user)
    theirs = [json.loads(m) for m in r.zrange(zkey, 0, -1)]
    assert [p.id for p in mine] == [d["id"] for d in theirs]
    assert mine[0].model_dump(exclude={"accounts"}) == theirs[0]

    times = h.interleaved(ROUNDS, {"ours": ours, "raw": raw, "naive": naive})
    ms = {k: h.median(h.walls(v)) * 1e3 for k, v in times.items()}
    row = h.Row(
        f"3. get_user_posts {size // 1000}k",
        "ms",
        key=f"read.get_user_posts.{size // 1000}k",
        ours=ms["ours"],
        raw=ms["raw"],
        naive=ms["naive"],
        cpu_vs_raw=h.cpu_per_run(times["ours"]) / h.cpu_per_run(times["raw"]),
        target="<=1.2x raw (Post objects)",
        note=(
            f"median of {ROUNDS} rounds; raw = ZRANGE + json.loads (dicts); naive = "
            f"Post.find(sender_username).sort_by('timestamp').all() ({NAIVE_ROUNDS} rounds); "
            f"spread ours {h.spread(times['ours'])}, raw {h.spread(times['raw'])}"
        ),
    )
    row.met = bool(row.vs_raw is not None and row.vs_raw <= 1.2)
    h.record(row)
