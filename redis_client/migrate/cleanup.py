"""Deleting what a migration wrote (its records, its own state), and nothing else."""

from __future__ import annotations

import logging

import redis

from .options import SCAN_COUNT

log = logging.getLogger("redis_client.migrate")


def delete_matching(client: redis.Redis, pattern: str, key_type: str | None = None) -> int:
    """UNLINK every key matching ``pattern`` (and of ``key_type`` when given), page by page."""
    deleted = 0
    cursor = 0
    while True:
        cursor, page = client.scan(cursor, match=pattern, count=SCAN_COUNT, _type=key_type)
        if page:
            deleted += int(client.unlink(*page))
        if int(cursor) == 0:
            break
    log.info("deleted %d keys matching %s", deleted, pattern)
    return deleted
