"""The posts step: ``Post`` records of the ``posted_tweets:{username}`` members.

Records are written by ``redis_client.records.posts`` (record-only mode of the dual write's
script: it never touches a sorted set). A sorted set is read in ZRANGE pages of at most
``batch_size`` members (never whole), small ones several per pipelined round trip; a batch of
about ``batch_size`` posts, possibly from several keys, is written in one pipelined round trip.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis

from ..core import keys, pools
from ..core.connector import Connector
from ..core.drivers import SyncDriver
from ..core.settings import RedisSettings
from ..records import members
from ..records.posts import write_records
from .engine import KeyMigration, key_name
from .options import DEFAULT_BATCH_SIZE, ProgressFactory, RunOptions, log_progress
from .report import StepStats, bad_item
from .writer import WriteOutcome

log = logging.getLogger("redis_client.migrate")

MIGRATION_ID = "0002_posts"


@dataclass
class _Chunk:
    zkey: bytes
    username: str
    posts: list[Any]  # members.parse results


@dataclass
class _Source:
    zkey: bytes
    username: str
    offset: int
    target: int  # members to read (ZCARD when the key was met)


class PostKeysMigration(KeyMigration):
    unit = "posts"
    pattern = keys.prefix_pattern(keys.POSTED_TWEETS)
    threaded_writes = True

    def __init__(self, client: redis.Redis, migration_id: str = MIGRATION_ID, **kwargs: Any) -> None:
        super().__init__(client, migration_id, **kwargs)
        self._pending: list[_Chunk] = []
        self._pending_posts = 0

    def count(self, source_keys: list[bytes]) -> int:
        pipe = self.client.pipeline(transaction=False)
        for key in source_keys:
            pipe.zcard(key)
        return sum(n for n in pipe.execute(raise_on_error=False) if isinstance(n, int))

    def process(self, source_keys: list[bytes]) -> None:
        # The key interrupted by a crash first, from where it stood.
        source_keys.sort(key=lambda k: k not in self.resume_at)
        queue = deque(self._sources(source_keys))
        while queue:
            group: list[tuple[_Source, int]] = []
            budget = self.batch_size
            while queue and (not group or budget > 0):
                source = queue.popleft()
                limit = min(source.target - source.offset, max(budget, 1), self.batch_size)
                group.append((source, limit))
                budget -= limit
            partial = self._read(group, queue)
            if self._pending_posts >= self.batch_size:
                self.flush(*partial)

    def _sources(self, source_keys: list[bytes]) -> list[_Source]:
        """How many members each key holds (one pipelined round trip); wrong types reported."""
        pipe = self.client.pipeline(transaction=False)
        for key in source_keys:
            pipe.zcard(key)
        cards = pipe.execute(raise_on_error=False)
        sources = []
        for key, card in zip(source_keys, cards, strict=True):
            if isinstance(card, Exception):  # WRONGTYPE: say which type it holds
                kind = self.client.type(key)
                kind = kind.decode() if isinstance(kind, bytes) else str(kind)
                self.report(key, f"posted_tweets key holds a {kind}, not a sorted set")
                self.finish_key(key)
                continue
            if not card:  # deleted since SCAN (e.g. remove_account): nothing to migrate
                self.finish_key(key)
                continue
            try:
                username = keys.username_from_key(key.decode("utf-8"), keys.POSTED_TWEETS)
                keys.check_username(username)
            except (UnicodeDecodeError, ValueError):
                self.report(key, "key name does not hold a usable UTF-8 username")
                self.finish_key(key)
                continue
            offset = self.resume_at.pop(key, 0)
            if offset >= card:
                self.finish_key(key)
                continue
            sources.append(_Source(key, username, offset, int(card)))
        return sources

    def _read(
        self, group: list[tuple[_Source, int]], queue: deque[_Source]
    ) -> tuple[bytes | None, int]:
        """Read one ZRANGE page of each source; returns the key left part-way and its offset."""
        pipe = self.client.pipeline(transaction=False)
        for source, limit in group:
            pipe.zrange(source.zkey, source.offset, source.offset + limit - 1)
        partial: tuple[bytes | None, int] = (None, 0)
        for (source, limit), raws in zip(group, pipe.execute(raise_on_error=False), strict=True):
            if isinstance(raws, Exception):  # its type changed since it was checked
                self.report(source.zkey, f"cannot read the sorted set: {raws}")
                self.finish_key(source.zkey)
                continue
            self._add(source, raws)
            source.offset += len(raws)
            if len(raws) == limit and source.offset < source.target:
                queue.appendleft(source)  # a big sorted set: its next page comes next
                partial = (source.zkey, source.offset)
            else:
                self.finish_key(source.zkey)
        return partial

    def _add(self, source: _Source, raws: list[bytes]) -> None:
        if not raws:
            return
        self.stats.processed += len(raws)

        def bad(index: int, reason: str) -> None:
            self.report(source.zkey, reason, raws[index])

        posts = members.parse(raws, on_bad=bad)
        self.stats.items += len(posts)
        if posts:
            self._pending.append(_Chunk(source.zkey, source.username, posts))
            self._pending_posts += len(posts)

    def take_batch(self) -> list[_Chunk] | None:
        chunks, self._pending, self._pending_posts = self._pending, [], 0
        return chunks or None

    def write_batch(self, batch: list[_Chunk]) -> WriteOutcome:
        if self.dry_run:
            return self._count_new(batch)
        written = self.driver.run(write_records([(c.zkey, c.username, c.posts) for c in batch]))
        outcome = WriteOutcome(created=written.created)
        zkey_of = {id(post): chunk.zkey for chunk in batch for post in chunk.posts}
        for post, reason in written.failed:
            outcome.failed.append(bad_item(key_name(zkey_of[id(post)]), reason, members.member_text(post)))
        return outcome

    def _count_new(self, batch: list[_Chunk]) -> WriteOutcome:
        ids = list(dict.fromkeys(post.id for chunk in batch for post in chunk.posts))
        pipe = self.client.pipeline(transaction=False)
        for post_id in ids:
            pipe.exists(keys.model_key(keys.POST_PREFIX, post_id))
        return WriteOutcome(created=sum(1 for n in pipe.execute() if not n))


def migrate_posts(settings: RedisSettings, migration_id: str, options: RunOptions) -> StepStats:
    """The posts step over the whole keyspace (what ``0002_posts`` runs), or on Ray."""
    if options.ray_workers:
        from .distributed import migrate_posts_on_ray

        stats = migrate_posts_on_ray(
            settings, migration_id, workers=options.ray_workers,
            batch_size=options.batch_size, dry_run=options.dry_run,
        )
        options.results.append(stats)
        return stats
    connector = Connector(settings)
    engine = PostKeysMigration(
        connector.client(), migration_id, batch_size=options.batch_size, dry_run=options.dry_run,
        progress=options.progress, driver=SyncDriver(connector),
    )
    options.results.append(engine.stats)
    return engine.run_scan()


def migrate_post_keys(
    settings: RedisSettings,
    source_keys: Iterable[bytes | str],
    *,
    partition: str,
    migration_id: str = MIGRATION_ID,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    progress: ProgressFactory = log_progress,
    total: int | None = None,
) -> StepStats:
    """Migrate an explicit list of ``posted_tweets:*`` keys with its own checkpoint ``partition``.

    For a driver that splits the keyspace (e.g. Ray tasks): each partition resumes on its own;
    records are the same whichever partition writes them first.
    """
    connector = Connector(settings)
    engine = PostKeysMigration(
        connector.client(), migration_id, batch_size=batch_size, dry_run=dry_run, progress=progress,
        partition=partition, driver=SyncDriver(connector),
    )
    return engine.run_keys(source_keys, total=total)


def run_posts_migration(
    settings: RedisSettings | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    migration_id: str = MIGRATION_ID,
    fresh: bool = True,
    progress: ProgressFactory = log_progress,
) -> StepStats:
    """Run the posts migration and return its stats (``posts``, ``seconds``, ``posts_per_second``,
    ``skipped``). For benchmarks: ``fresh`` forgets a previous checkpoint first (records stay).
    """
    from ..core.settings import load_settings

    settings = settings or load_settings()
    connector = Connector(settings)
    engine = PostKeysMigration(
        connector.client(), migration_id, batch_size=batch_size, progress=progress,
        driver=SyncDriver(connector),
    )
    if fresh and engine.checkpoint is not None:
        engine.checkpoint.clear()
    return engine.run_scan(count_first=False)


def rollback_posts(settings: RedisSettings, migration_id: str) -> int:
    """Delete every ``Post`` record and this migration's state; returns the number of keys deleted."""
    from .cleanup import delete_matching

    client = pools.get_client(settings, decode=False)
    deleted = delete_matching(client, keys.model_pattern(keys.POST_PREFIX), "ReJSON-RL")
    return deleted + delete_matching(client, keys.migration_state_pattern(migration_id))
