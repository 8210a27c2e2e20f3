"""``Post`` records of the ``posted_tweets:{username}`` members.

Migration ID: 0002_posts
Depends on: 0001_indexes

Records are written by ``redis_client.records.posts`` (the dual write's script in record-only
mode: it never touches a sorted set), so a post already written by ``db.add_user_post`` only
gains the account if missing. A sorted set is read in ZRANGE pages of at most ``batch_size``
members (never whole), small ones several per pipelined round trip; a batch of about
``batch_size`` posts, possibly from several keys, is written in one pipelined round trip on the
writer thread while the next batch is read. ``down`` deletes every ``Post`` record (also those
``add_user_post`` wrote since: a new ``up`` restores them from the legacy keys).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from redis_client.core import keys
from redis_client.core.errors import server_message
from redis_client.migrate.context import Context
from redis_client.migrate.engine import KeyMigration
from redis_client.migrate.report import StepStats
from redis_client.migrate.writer import WriteOutcome
from redis_client.records import members
from redis_client.records.bad import bad_item, key_name
from redis_client.records.posts import write_records

migration_id = "0002_posts"
description = "Post records from the posted_tweets:{username} sorted sets"
dependencies = ["0001_indexes"]
resync = True
partitioned = True


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


class PostKeys(KeyMigration):
    unit = "posts"
    pattern = keys.prefix_pattern(keys.POSTED_TWEETS)
    threaded_writes = True

    def __init__(self, ctx: Context, *, dry_run: bool = False) -> None:
        super().__init__(ctx, dry_run=dry_run)
        self._pending: list[_Chunk] = []
        self._pending_posts = 0

    def count(self, source_keys: list[bytes]) -> int:
        return sum(n for n in self._cards(source_keys) if isinstance(n, int))

    def _cards(self, source_keys: list[bytes]) -> list[Any]:
        """ZCARD of each key, in one pipelined round trip (an error reply for a wrong type)."""
        pipe = self.client.pipeline(transaction=False)
        for key in source_keys:
            pipe.zcard(key)
        return pipe.execute(raise_on_error=False)

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
        sources = []
        for key, card in zip(source_keys, self._cards(source_keys), strict=True):
            if isinstance(card, Exception):  # WRONGTYPE: say which type it holds
                kind = self.client.execute_command("TYPE", key)
                self.report(key, f"posted_tweets key holds a {key_name(kind)}, not a sorted set")
                self.finish_key(key)
                continue
            if not card:  # deleted since SCAN (e.g. remove_account): nothing to migrate
                self.finish_key(key)
                continue
            username = keys.username_of(key, keys.POSTED_TWEETS)
            if username is None:
                self.report(key, "key name does not hold a usable UTF-8 username")
                self.finish_key(key)
                continue
            offset = self.resume_at.pop(key, 0)
            if offset >= card:
                self.finish_key(key)
                continue
            sources.append(_Source(key, username, offset, int(card)))
        return sources

    def _read(self, group: list[tuple[_Source, int]], queue: deque[_Source]) -> tuple[bytes | None, int]:
        """Read one ZRANGE page of each source; returns the key left part-way and its offset."""
        pipe = self.client.pipeline(transaction=False)
        for source, limit in group:
            pipe.zrange(source.zkey, source.offset, source.offset + limit - 1)
        partial: tuple[bytes | None, int] = (None, 0)
        for (source, limit), raws in zip(group, pipe.execute(raise_on_error=False), strict=True):
            if isinstance(raws, Exception):  # its type changed since it was checked
                self.report(source.zkey, f"cannot read the sorted set: {server_message(raws)}")
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
        written = self.ctx.run(write_records([(c.zkey, c.username, c.posts) for c in batch]))
        outcome = WriteOutcome(created=written.created)
        for zkey, post, reason in written.failed:
            outcome.failed.append(bad_item(key_name(zkey), reason, members.member_text(post)))
        return outcome

    def _count_new(self, batch: list[_Chunk]) -> WriteOutcome:
        """Posts of the batch without a record yet (an id met in two batches counts twice)."""
        ids = list(dict.fromkeys(post.id for chunk in batch for post in chunk.posts))
        pipe = self.client.pipeline(transaction=False)
        for post_id in ids:
            pipe.exists(keys.model_key(keys.POST_PREFIX, post_id))
        return WriteOutcome(created=sum(1 for n in pipe.execute() if not n))


def up(ctx: Context) -> StepStats:
    return PostKeys(ctx).run()


def dry_run(ctx: Context) -> StepStats:
    return PostKeys(ctx, dry_run=True).run()


def down(ctx: Context) -> int:
    return ctx.delete_records(keys.POST_PREFIX)
