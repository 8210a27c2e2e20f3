"""Posts: the legacy sorted set ``posted_tweets:{username}`` and the ``Post`` records, in step."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from typing import Any

import redis

from models.post import Post

from . import keys, scripts, translate
from .base import Connected
from .errors import WriteConflictError

log = logging.getLogger("redis_client")

#: Posts per script call in ``add_user_posts`` (bounds the time the server spends in one call).
BATCH_SIZE = 500


class PostsMixin(Connected):
    """The post methods of ``RedisDB``."""


    def add_user_post(self, username: str, post: Any) -> None:
        """Validate, then write the legacy member and the ``Post`` record atomically.

        ``post`` may be a ``Post``, a dict, or any object with the post attributes. Adding the
        same post again changes nothing; the same id under another account adds that account
        to the record's ``accounts`` (the first content written stays in the record).
        """
        self.add_user_posts(username, [post])

    def add_user_posts(self, username: str, posts: Iterable[Any]) -> int:
        """Add many posts of one account; all are validated before anything is written.

        Written in atomic batches of ``BATCH_SIZE`` pipelined in one round trip.
        Returns how many members were new in the sorted set.
        """
        zkey = keys.posted_tweets(username)
        valid = [translate.to_post(p) for p in posts]
        if not valid:
            return 0
        account = json.dumps(username)
        with_records = self._models_enabled()
        suffix = translate.accounts_suffix([username])
        script = self._script("ADD_POSTS")
        calls: list[tuple[list[str], list[Any]]] = []
        for start in range(0, len(valid), BATCH_SIZE):
            batch = valid[start : start + BATCH_SIZE]
            args: list[Any] = [account, "1"]
            record_keys = []
            for post in batch:
                member = translate.member_of(post)
                args += [post.timestamp, member]
                args.append(translate.document_from_member(member, suffix) if with_records else "")
                if with_records:
                    record_keys.append(keys.model_key(keys.POST_PREFIX, post.id))
            calls.append(([zkey, *record_keys], args))
        added = 0
        for (call_keys, call_args), result in zip(
            calls, self._run_batches(script, calls), strict=True
        ):
            if isinstance(result, redis.exceptions.NoScriptError):
                # The script cache was emptied (a server restart) between redis-py's SCRIPT EXISTS
                # and this EVALSHA, so the batch did not run: run it again, loading the script.
                result = script(keys=call_keys, args=call_args)
            if isinstance(result, redis.ResponseError):
                conflict = _write_conflict(result)
                if conflict is None:
                    raise result
                raise conflict from None
            added += int(result)
        return added

    def _run_batches(self, script: Any, calls: list[tuple[list[str], list[Any]]]) -> list[Any]:
        """Run the script once per call; a result or a ``ResponseError`` for each.

        A single call is sent at once (redis-py's ``Script`` loads the script on NOSCRIPT): in a
        pipeline, redis-py first sends SCRIPT EXISTS on every execute, a second round trip.
        """
        if len(calls) == 1:
            try:
                return [script(keys=calls[0][0], args=calls[0][1])]
            except redis.ResponseError as exc:
                return [exc]
        pipe = self.r.pipeline(transaction=False)
        for call_keys, call_args in calls:
            script(keys=call_keys, args=call_args, client=pipe)
        return list(pipe.execute(raise_on_error=False))

    def get_user_posts(self, username: str) -> list[Post]:
        """The account's posts, oldest first, from the sorted set (malformed members skipped)."""
        zkey = keys.posted_tweets(username)
        return self._parse(zkey, self.r.zrange(zkey, 0, -1))

    def get_user_posts_by_create_time(self, username: str, second_ago: int = 10800) -> list[Post]:
        """Posts of the last ``second_ago`` seconds, newest last."""
        zkey = keys.posted_tweets(username)
        now = int(time.time())
        return self._parse(zkey, self.r.zrangebyscore(zkey, now - second_ago, now))

    def _parse(self, zkey: str, raws: list[bytes]) -> list[Post]:
        def warn(index: int, reason: str) -> None:
            log.warning("skipped malformed member #%d of %s: %s", index, zkey, reason)

        return translate.parse_members(raws, on_bad=warn)


def _write_conflict(exc: redis.ResponseError) -> WriteConflictError | None:
    """The script's type check as a :class:`WriteConflictError` naming the key.

    Only the server's own message is kept (see ``scripts.server_message``).
    """
    message = scripts.server_message(exc)
    if not message.startswith("WRONGTYPE "):
        return None
    return WriteConflictError(f"{message[len('WRONGTYPE '):]}: nothing was written")
