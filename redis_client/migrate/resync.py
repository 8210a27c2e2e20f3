"""``migrate run --resync``: catch the records up with legacy keys written since the migration.

Other services keep writing ``posted_tweets:*`` and ``twitter_data:*`` directly; their new
posts and accounts have no record until the posts and accounts steps run again. A resync runs
both again over the whole keyspace. Their writes are idempotent, so it creates only what is
missing, never removes a record (no gap, unlike rollback + run) and never writes a legacy key.
Finished checkpoints are reset first; an interrupted resync resumes from its own.
"""

from __future__ import annotations

from ..core import keys, pools
from ..core.errors import MigrationRefusedError
from ..core.settings import RedisSettings
from .accounts import MIGRATION_ID as ACCOUNTS_ID
from .accounts import migrate_accounts
from .options import DEFAULT_BATCH_SIZE, SCAN_COUNT, ProgressFactory, RunOptions, log_progress
from .posts import MIGRATION_ID as POSTS_ID
from .posts import migrate_posts
from .report import StepStats
from .runner import applied_migrations
from .steps import require_models

#: The steps a resync repeats, in order.
STEPS = ((POSTS_ID, migrate_posts), (ACCOUNTS_ID, migrate_accounts))


def resync(
    settings: RedisSettings,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressFactory = log_progress,
    ray_workers: int | None = None,
) -> list[StepStats]:
    """Run the posts and accounts steps again; refused unless both were applied."""
    require_models(settings)
    missing = [mid for mid, _ in STEPS if mid not in applied_migrations(settings)]
    if missing:
        raise MigrationRefusedError(
            f"{', '.join(missing)} not applied yet: `redis-client migrate run` first"
        )
    options = RunOptions(
        settings=settings, batch_size=batch_size, progress=progress, ray_workers=ray_workers
    )
    for migration_id, step in STEPS:
        reset_finished_checkpoints(settings, migration_id)
        step(settings, migration_id, options)
    return options.results


def reset_finished_checkpoints(settings: RedisSettings, migration_id: str) -> int:
    """Forget the checkpoints (and done-key sets) of finished partitions; keep unfinished ones."""
    client = pools.get_client(settings)
    prefix = keys.migration_state(f"{migration_id}:checkpoint:")
    reset = 0
    for key in client.scan_iter(match=keys.escape_glob(prefix) + "*", count=SCAN_COUNT):
        if client.hget(key, "done") != b"1":
            continue
        partition = key.decode()[len(prefix) :]
        client.delete(key, keys.migration_done_keys(migration_id, partition))
        reset += 1
    return reset
