"""The posts migration partitioned over Ray workers.

Each ``posted_tweets:*`` key belongs to exactly one partition, ``crc32(key) % workers``, so no
post is handled twice; each partition is one Ray task with its own checkpoint
(``…:checkpoint:ray-{i}-of-{n}``), resumable like the single-process run. Tasks get the
settings, never a client: they connect lazily in their own process. Ray is imported only here.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections import Counter

from ..core import keys, pools
from ..core.settings import RedisSettings
from .options import SCAN_COUNT
from .posts import migrate_post_keys
from .report import SAMPLE_SIZE, StepStats

log = logging.getLogger("redis_client.migrate")


def partition_of(key: bytes, workers: int) -> int:
    """The partition of one source key (stable across runs for the same ``workers``)."""
    return zlib.crc32(key) % workers


def partition_name(index: int, workers: int) -> str:
    return f"ray-{index}-of-{workers}"


def partition_keys(settings: RedisSettings, index: int, workers: int) -> list[bytes]:
    """This partition's source keys, sorted (one name per account: small even for 1M posts)."""
    client = pools.get_client(settings)
    pattern = keys.prefix_pattern(keys.POSTED_TWEETS)
    scanned = client.scan_iter(match=pattern, count=SCAN_COUNT)
    return sorted({k for k in scanned if partition_of(k, workers) == index})


def run_partition(
    settings: RedisSettings, migration_id: str, index: int, workers: int, batch_size: int, dry_run: bool
) -> StepStats:
    """One Ray task: migrate the keys of partition ``index`` of ``workers``."""
    source = partition_keys(settings, index, workers)
    return migrate_post_keys(
        settings,
        source,
        partition=partition_name(index, workers),
        migration_id=migration_id,
        batch_size=batch_size,
        dry_run=dry_run,
    )


def migrate_posts_on_ray(
    settings: RedisSettings,
    migration_id: str,
    *,
    workers: int,
    batch_size: int,
    dry_run: bool = False,
) -> StepStats:
    """Run every partition as a Ray task and wait for all; raises if any task failed.

    Uses the Ray cluster of ``RAY_ADDRESS`` or one already initialised, else starts a local one.
    """
    import ray

    if workers < 1:
        raise ValueError("workers must be at least 1")
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    started = time.monotonic()
    task = ray.remote(run_partition)
    refs = [
        task.remote(settings, migration_id, i, workers, batch_size, dry_run) for i in range(workers)
    ]
    parts: list[StepStats] = ray.get(refs)
    total = combine(migration_id, parts)
    total.seconds = time.monotonic() - started
    total.notes.append(f"partitioned over {workers} Ray workers")
    log.info("%s: %d partitions on Ray done", migration_id, workers)
    return total


def combine(migration_id: str, parts: list[StepStats]) -> StepStats:
    """The counters of all partitions as one step's."""
    total = StepStats(migration_id, unit=parts[0].unit if parts else "posts")
    reasons: Counter[str] = Counter()
    for part in parts:
        for name in ("items", "created", "updated", "skipped", "keys", "processed", "resumed_items"):
            setattr(total, name, getattr(total, name) + getattr(part, name))
        reasons.update(part.reasons)
        total.sample.extend(part.sample[: SAMPLE_SIZE - len(total.sample)])
        total.notes.extend(part.notes)
        total.dry_run = total.dry_run or part.dry_run
    total.reasons = reasons
    total.already_done = bool(parts) and all(p.already_done for p in parts)
    return total

