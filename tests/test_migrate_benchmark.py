"""Throughput of the posts migration against raw redis-py pipelined writes of the same records.

Run with ``pytest -m benchmark tests/test_migrate_benchmark.py -s``. Both sides write the same
50k ``Post`` records (raw: JSON.SET ... NX, 1000 per round trip); the migration also reads,
validates and checkpoints. Target: at least 0.8x the raw rate with the search index present,
which is how the migration runs (``0001_indexes`` comes first). Without an index the server's
share of the work is small and the ``ADD_POSTS`` script's Lua overhead (a type check and a
``redis.call`` per record) shows: the floor there only guards against regressions.
"""

from __future__ import annotations

import json
import statistics
import time

import pytest
import redis
from legacy_data import seed

from redis_client.core import keys
from redis_client.core.settings import RedisSettings
from redis_client.migrate import commands
from redis_client.migrate.state import delete_matching
from redis_client.records import members

pytestmark = pytest.mark.benchmark

POSTS = 50_000
ROUNDS = 5


def _records(client: redis.Redis) -> list[tuple[str, str]]:
    out = []
    for zkey in client.scan_iter(match=keys.prefix_pattern(keys.POSTED_TWEETS)):
        username = keys.username_from_key(zkey.decode(), keys.POSTED_TWEETS)
        account = json.dumps(username)
        for post in members.parse(client.zrange(zkey, 0, -1), on_bad=lambda i, reason: None):
            out.append((keys.model_key(keys.POST_PREFIX, post.id), members.document(post, account)))
    return out


def _raw_writes(client: redis.Redis, records: list[tuple[str, str]]) -> float:
    start = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    for i, (key, doc) in enumerate(records, 1):
        pipe.execute_command("JSON.SET", key, "$", doc, "NX")
        if i % 1000 == 0:
            pipe.execute()
    pipe.execute()
    return time.perf_counter() - start


@pytest.mark.parametrize(
    ("with_index", "floor"), [(True, 0.8), (False, 0.65)], ids=["indexed", "no-index"]
)
def test_posts_migration_throughput(
    raw: redis.Redis, redis_settings: RedisSettings, with_index: bool, floor: float
) -> None:
    seed(raw, posts=POSTS, accounts=50, bad_members=0, extras=False)
    if with_index:
        commands.run_step("0001_indexes", redis_settings)
    records = _records(raw)
    raw_rates, ours = [], []
    for _ in range(ROUNDS):
        delete_matching(raw, keys.model_pattern(keys.POST_PREFIX))
        raw_rates.append(len(records) / _raw_writes(raw, records))
        delete_matching(raw, keys.model_pattern(keys.POST_PREFIX))
        stats = commands.run_step("0002_posts", redis_settings, batch_size=1000, fresh=True)
        assert stats.created == len({k for k, _ in records})
        ours.append(stats.per_second)
    raw_rate, our_rate = statistics.median(raw_rates), statistics.median(ours)
    print(f"\n{'indexed' if with_index else 'no index'}: raw {raw_rate:,.0f} records/s, "
          f"migration {our_rate:,.0f} posts/s, ratio {our_rate / raw_rate:.2f} "
          f"(raw {[round(r) for r in raw_rates]}, migration {[round(r) for r in ours]})")
    assert our_rate >= floor * raw_rate
