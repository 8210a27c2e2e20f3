"""Writes: one ``add_user_post`` at a time, and a 30k bulk ``add_user_posts``.

Every variant does the same Redis work on the same server: the legacy sorted-set member
(``posted_tweets:{username}``) and the ``Post`` record (``redis_client_om:post:{id}``), with the
same bytes. Each variant writes fresh posts under its own account, so no variant hits the
"already there" path of another.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from redis_client import translate
from redis_client.core import keys
from redis_client.models import Post

from . import _harness as h

pytestmark = pytest.mark.benchmark

SINGLE_PER_ROUND = 300
SINGLE_ROUNDS = 9
BULK_SIZE = 30_000
BULK_ROUNDS = 3
BULK_CHUNK = 500  # raw: posts per ZADD (the project's scripts take 500 posts per call too)


def _naive_member(post: Post) -> str:
    # What a redis-om user writes for the legacy member: the model's fields minus ``accounts``.
    return json.dumps(post.model_dump(exclude={"accounts"}))


def _drop(bench: Any, username: str, ids: list[str]) -> None:
    """Untimed cleanup, so every variant starts from the same keyspace."""
    cmds: list[tuple[str, ...]] = [("UNLINK", keys.posted_tweets(username))]
    cmds += [("UNLINK", *[h.record_key(i) for i in ids[k : k + 500]]) for k in range(0, len(ids), 500)]
    h.send_commands(bench.r, cmds)


def _count_records(bench: Any, ids: list[str]) -> int:
    return sum(
        int(bench.r.exists(*[h.record_key(i) for i in ids[k : k + 1000]])) for k in range(0, len(ids), 1000)
    )


def test_single_add_user_post(bench: Any) -> None:
    db, r = bench.db, bench.r
    users = {"ours": "bench_single_ours", "raw": "bench_single_raw", "naive": "bench_single_naive"}
    written: dict[str, list[str]] = {name: [] for name in users}
    ts0 = 1_700_000_000

    def ours(rnd: int) -> h.Stopwatch:
        user = users["ours"]
        posts = [Post(**f) for f in h.make_posts(user, SINGLE_PER_ROUND, ts0 + rnd * 1000)]
        written["ours"] += [p.id for p in posts]
        with h.Stopwatch() as sw:
            for post in posts:
                db.add_user_post(user, post)
        return sw

    def raw(rnd: int) -> h.Stopwatch:
        user = users["raw"]
        zkey = keys.posted_tweets(user)
        fields = h.make_posts(user, SINGLE_PER_ROUND, ts0 + rnd * 1000)
        written["raw"] += [f["id"] for f in fields]
        with h.Stopwatch() as sw:
            for f in fields:
                pipe = r.pipeline(transaction=True)  # MULTI / EXEC: one round trip
                pipe.zadd(zkey, {h.member_of(f): f["timestamp"]})
                pipe.execute_command("JSON.SET", h.record_key(f["id"]), "$", h.document_of(f, [user]), "NX")
                pipe.execute()
        return sw

    def naive(rnd: int) -> h.Stopwatch:
        user = users["naive"]
        zkey = keys.posted_tweets(user)
        posts = [Post(**f, accounts=[user]) for f in h.make_posts(user, SINGLE_PER_ROUND, ts0 + rnd * 1000)]
        written["naive"] += [p.id for p in posts]
        with h.Stopwatch() as sw:
            for post in posts:
                post.save()
                r.zadd(zkey, {_naive_member(post): post.timestamp})
        return sw

    # Warm-up (script load, index, connections), then the measured rounds.
    for fn in (ours, raw, naive):
        fn(-1)
    times = h.interleaved(SINGLE_ROUNDS, {"ours": ours, "raw": raw, "naive": naive})
    per_op = {k: h.median(h.walls(v)) / SINGLE_PER_ROUND * 1e6 for k, v in times.items()}

    # Gross correctness: every post written once, same bytes whichever way it was written.
    expected = SINGLE_PER_ROUND * (SINGLE_ROUNDS + 1)
    for name, user in users.items():
        assert r.zcard(keys.posted_tweets(user)) == expected, name
        assert _count_records(bench, written[name]) == expected, name
    sample_id = written["ours"][-1]
    member = r.zrange(keys.posted_tweets(users["ours"]), -1, -1)[0]
    fields = json.loads(member)
    assert fields["id"] == sample_id
    assert member.decode() == h.member_of(fields)
    stored = json.loads(r.execute_command("JSON.GET", h.record_key(sample_id)))
    assert stored == json.loads(h.document_of(fields, [users["ours"]]))
    product = translate.document_from_member(
        translate.member_of(Post(**fields)), translate.accounts_suffix([users["ours"]])
    )
    assert h.document_of(fields, [users["ours"]]) == product

    row = h.Row(
        "1. add_user_post (single, 1 post/call)",
        "us/op",
        key="write.add_user_post",
        ours=per_op["ours"],
        raw=per_op["raw"],
        naive=per_op["naive"],
        cpu_vs_raw=h.cpu_per_run(times["ours"]) / h.cpu_per_run(times["raw"]),
        target="<=1.2x raw; >=1.3x faster than naive",
        note=(
            f"median of {SINGLE_ROUNDS} rounds x {SINGLE_PER_ROUND} sequential calls; "
            f"raw = pipeline(transaction=True){{ZADD, JSON.SET NX}}; naive = Post.save() + ZADD; "
            f"spread ours {h.spread(times['ours'])}, raw {h.spread(times['raw'])}, "
            f"naive {h.spread(times['naive'])}"
        ),
    )
    row.met = bool(
        row.vs_raw is not None
        and row.vs_raw <= 1.2
        and row.naive_over_ours is not None
        and row.naive_over_ours >= 1.3
    )
    h.record(row)
    for name, user in users.items():
        _drop(bench, user, written[name])


def test_bulk_add_user_posts(bench: Any) -> None:
    db, r = bench.db, bench.r

    def ours_with(kind: str) -> Any:
        def run(rnd: int) -> h.Stopwatch:
            user = f"bench_bulk_{kind}"
            fields = h.make_posts(user, BULK_SIZE)
            posts: list[Any] = [Post(**f) for f in fields] if kind == "ours" else fields
            with h.Stopwatch() as sw:
                added = db.add_user_posts(user, posts)
            assert added == BULK_SIZE
            ids = [f["id"] for f in fields]
            assert r.zcard(keys.posted_tweets(user)) == BULK_SIZE
            assert _count_records(bench, ids) == BULK_SIZE
            _drop(bench, user, ids)
            return sw

        return run

    def raw(rnd: int) -> h.Stopwatch:
        user = "bench_bulk_raw"
        zkey = keys.posted_tweets(user)
        fields = h.make_posts(user, BULK_SIZE)
        with h.Stopwatch() as sw:
            pipe = r.pipeline(transaction=False)
            for k in range(0, BULK_SIZE, BULK_CHUNK):
                chunk = fields[k : k + BULK_CHUNK]
                pipe.zadd(zkey, {h.member_of(f): f["timestamp"] for f in chunk})
                for f in chunk:
                    pipe.execute_command(
                        "JSON.SET", h.record_key(f["id"]), "$", h.document_of(f, [user]), "NX"
                    )
            pipe.execute()
        ids = [f["id"] for f in fields]
        assert r.zcard(zkey) == BULK_SIZE
        assert _count_records(bench, ids) == BULK_SIZE
        _drop(bench, user, ids)
        return sw

    def naive(rnd: int) -> h.Stopwatch:
        user = "bench_bulk_naive"
        zkey = keys.posted_tweets(user)
        posts = [Post(**f, accounts=[user]) for f in h.make_posts(user, BULK_SIZE)]
        with h.Stopwatch() as sw:
            Post.add(posts)  # redis-om's bulk save: one pipeline of JSON.SET
            r.zadd(zkey, {_naive_member(p): p.timestamp for p in posts})
        ids = [p.id for p in posts]
        assert r.zcard(zkey) == BULK_SIZE
        assert _count_records(bench, ids) == BULK_SIZE
        _drop(bench, user, ids)
        return sw

    times = h.interleaved(
        BULK_ROUNDS,
        {"ours": ours_with("ours"), "ours_dicts": ours_with("dicts"), "raw": raw, "naive": naive},
    )
    rate = {k: BULK_SIZE / h.median(h.walls(v)) for k, v in times.items()}
    cpu = {k: h.cpu_per_run(v) for k, v in times.items()}
    row = h.Row(
        f"2. add_user_posts bulk {BULK_SIZE // 1000}k (Post objects)",
        "posts/s",
        key="write.add_user_posts.objects",
        ours=rate["ours"],
        raw=rate["raw"],
        naive=rate["naive"],
        higher_is_better=True,
        cpu_vs_raw=cpu["ours"] / cpu["raw"],
        target=">=0.8x raw throughput",
        note=(
            f"median of {BULK_ROUNDS} rounds; raw = one pipeline, ZADD of {BULK_CHUNK} members "
            f"+ JSON.SET NX per post; naive = Post.add(posts) + one ZADD; "
            f"spread ours {h.spread(times['ours'])}, raw {h.spread(times['raw'])}"
        ),
    )
    row.met = bool(row.vs_raw is not None and row.vs_raw >= 0.8)
    h.record(row)
    row2 = h.Row(
        f"2b. add_user_posts bulk {BULK_SIZE // 1000}k (dicts)",
        "posts/s",
        key="write.add_user_posts.dicts",
        ours=rate["ours_dicts"],
        raw=rate["raw"],
        naive=rate["naive"],
        higher_is_better=True,
        cpu_vs_raw=cpu["ours_dicts"] / cpu["raw"],
        target=">=0.8x raw throughput",
    )
    row2.met = bool(row2.vs_raw is not None and row2.vs_raw >= 0.8)
    h.record(row2)
