"""``migrate verify``: per account, legacy keys against model records.

Fails (``VerifyResult.ok`` False) while any valid legacy post lacks its ``Post`` record, or a
record does not list the account, or a valid legacy account lacks its ``TwitterAccount``.
Records whose metadata differs from ``twitter_data`` or whose action times are older than the
legacy keys (written by other services since) are listed as stale: a warning, not a failure.
Bad legacy data is counted, not compared (the migration's report lists it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from ..core import keys, scan
from ..core.connector import Connector
from ..core.drivers import SyncDriver
from ..core.protocol import Call, Op, Pipeline
from ..records import members
from ..records.accounts import CREATED, read_accounts, upsert
from .context import DEFAULT_BATCH_SIZE

#: Accounts with differences kept for printing (the totals count all).
MAX_DIFFS = 1000
#: Post ids shown per account.
SAMPLE_IDS = 5


@dataclass
class AccountDiff:
    username: str
    posts: int = 0
    missing_records: int = 0
    unlinked: int = 0
    sample_ids: list[str] = field(default_factory=list)
    account_missing: bool = False
    stale_fields: list[str] = field(default_factory=list)

    @property
    def failing(self) -> bool:
        return bool(self.missing_records or self.unlinked or self.account_missing)


@dataclass
class VerifyResult:
    post_keys: int = 0
    posts: int = 0
    bad_members: int = 0
    records_missing: int = 0
    unlinked: int = 0
    accounts: int = 0
    accounts_bad: int = 0
    accounts_missing: int = 0
    accounts_stale: int = 0
    diffs: dict[str, AccountDiff] = field(default_factory=dict)
    more_diffs: int = 0

    @property
    def ok(self) -> bool:
        return not (self.records_missing or self.unlinked or self.accounts_missing)

    def diff(self, username: str) -> AccountDiff | None:
        found = self.diffs.get(username)
        if found is None:
            if len(self.diffs) >= MAX_DIFFS:
                self.more_diffs += 1
                return None
            found = self.diffs[username] = AccountDiff(username)
        return found


def compare(connector: Connector, batch_size: int = DEFAULT_BATCH_SIZE) -> VerifyResult:
    """Compare every legacy post and account with its record (reads only)."""
    client = connector.client()
    driver = SyncDriver(connector)
    result = VerifyResult()
    for _, page in scan.pages(client, match=keys.prefix_pattern(keys.POSTED_TWEETS), key_type="zset"):
        for key in page:
            _verify_post_key(client, driver, key, batch_size, result)
    for _, page in scan.pages(client, match=keys.prefix_pattern(keys.TWITTER_DATA)):
        _verify_accounts(driver, page, result)
    return result


def _verify_post_key(
    client: redis.Redis[Any], driver: SyncDriver, key: bytes, batch_size: int, result: VerifyResult
) -> None:
    username = keys.username_of(key, keys.POSTED_TWEETS)
    if username is None:
        return  # the migration reports such a key as bad; nothing to compare
    result.post_keys += 1
    missing = unlinked = posts = 0
    samples: list[str] = []
    offset = 0
    while True:
        raws = client.zrange(key, offset, offset + batch_size - 1)
        offset += len(raws)
        parsed = members.parse(raws, on_bad=_count_bad(result))
        for post, reply in zip(parsed, driver.run(_accounts_replies(parsed)), strict=True):
            posts += 1
            linked = _accounts_of(reply)
            if linked is None:
                missing += 1
            elif username not in linked:
                unlinked += 1
            else:
                continue
            if len(samples) < SAMPLE_IDS:
                samples.append(post.id)
        if len(raws) < batch_size:
            break
    result.posts += posts
    result.records_missing += missing
    result.unlinked += unlinked
    if missing or unlinked:
        diff = result.diff(username)
        if diff is not None:
            diff.posts, diff.missing_records, diff.unlinked = posts, missing, unlinked
            diff.sample_ids = samples


def _accounts_replies(posts: list[Any]) -> Op[list[Any]]:
    """``JSON.GET {record} $.accounts`` of each post, in one round trip."""
    record = keys.model_key
    replies = yield Pipeline(
        [Call("execute_command", ("JSON.GET", record(keys.POST_PREFIX, p.id), "$.accounts")) for p in posts]
    )
    return list(replies)


def _count_bad(result: VerifyResult) -> Callable[[int, str], None]:
    def count(index: int, reason: str) -> None:
        result.bad_members += 1

    return count


def _accounts_of(reply: object) -> list[str] | None:
    """The ``accounts`` of a record from ``JSON.GET key $.accounts``; None when no record."""
    if not isinstance(reply, (bytes, str)):
        return None
    value = json.loads(reply)
    if isinstance(value, list) and value and isinstance(value[0], list):
        return [str(a) for a in value[0]]
    return []


def _verify_accounts(driver: SyncDriver, page: list[bytes], result: VerifyResult) -> None:
    bad = [0]

    def count_bad(key: bytes | str, reason: str) -> None:
        if isinstance(key, bytes):  # a twitter_data key: the account is unusable
            bad[0] += 1  # (action-time problems, reported by name, only drop that time)

    accounts = driver.run(read_accounts(page, count_bad))
    result.accounts_bad += bad[0]
    result.accounts += len(accounts)
    for account, done in zip(accounts, driver.run(upsert(accounts, check=True)), strict=True):
        if not done.fields:
            continue
        diff = result.diff(account.username)
        if done.code == CREATED:
            result.accounts_missing += 1
            if diff is not None:
                diff.account_missing = True
        else:
            result.accounts_stale += 1
            if diff is not None:
                diff.stale_fields = list(done.fields)
