"""Legacy accounts (``twitter_data:{username}`` and ``{action_type}:{username}``) -> ``TwitterAccount``.

An account exists while its ``twitter_data`` key exists: a hash, or an older JSON string (any
other type is reported and skipped). Its known action-time keys (``keys.ACTION_TYPES``) add the
last action times. Token fields are never copied (``translate.account_record`` drops them) and
no value of ``twitter_data`` ever appears in a report or a log line.

Refresh rule (the ``UPSERT_ACCOUNT`` script, atomic per account): a missing record is created
whole. An existing one gets each metadata field that ``twitter_data`` holds (``name``,
``twitter_id``, ``expires_at``) when it differs, and each action time only when the legacy one is
newer (times never move back, so a concurrent ``update_account_last_action_time`` is never
undone). Fields the legacy data lacks are left alone. A record that already matches is not
written, so a second run writes nothing.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from models.account import TwitterAccount

from .. import translate
from ..core import keys, pools, scripts
from ..core.settings import RedisSettings
from .engine import KeyMigration, key_name
from .options import RunOptions
from .report import StepStats, bad_item
from .writer import WriteOutcome

log = logging.getLogger("redis_client.migrate")

MIGRATION_ID = "0003_accounts"
#: Record fields refreshed from ``twitter_data`` when they differ.
META_FIELDS: tuple[str, ...] = tuple(translate.ACCOUNT_FIELDS)

Reporter = Callable[[bytes | str, str], None]


@dataclass
class LegacyAccount:
    key: bytes  # the twitter_data key
    username: str
    record: TwitterAccount

    @property
    def record_key(self) -> str:
        return keys.model_key(keys.ACCOUNT_PREFIX, self.username)

    def updates(self) -> list[tuple[str, str, Any]]:
        """(mode, field, value) the legacy data holds: 'm' metadata, 't' action time."""
        data = self.record.model_dump(mode="json")
        out: list[tuple[str, str, Any]] = []
        out += [("m", f, data[f]) for f in META_FIELDS if data.get(f) is not None]
        out += [("t", a, data[a]) for a in keys.ACTION_TYPES if data.get(a) is not None]
        return out

    def changes(self, existing: dict[str, Any] | None) -> list[str]:
        """Fields the upsert would write into ``existing`` (None: the whole record is missing)."""
        if existing is None:
            return ["*"]
        changed = []
        for mode, field, value in self.updates():
            current = existing.get(field)
            if current is None:
                changed.append(field)
            elif mode == "t":
                if not isinstance(current, (int, float)) or current < value:
                    changed.append(field)
            elif current != value:
                changed.append(field)
        return changed


def read_accounts(
    client: redis.Redis, source_keys: list[bytes], report: Reporter
) -> list[LegacyAccount]:
    """The valid accounts among ``twitter_data`` keys (two pipelined round trips); bad ones reported."""
    pipe = client.pipeline(transaction=False)
    for key in source_keys:
        pipe.type(key)
    kinds = [k.decode() if isinstance(k, bytes) else str(k) for k in pipe.execute()]
    wanted: list[tuple[bytes, str, str]] = []
    for key, kind in zip(source_keys, kinds, strict=True):
        if kind == "none":
            continue  # removed since SCAN: the account no longer exists
        if kind not in ("hash", "string"):
            report(key, f"twitter_data key holds a {kind}, not a hash or a JSON string")
            continue
        try:
            username = keys.check_username(
                keys.username_from_key(key.decode("utf-8"), keys.TWITTER_DATA)
            )
        except (UnicodeDecodeError, ValueError):
            report(key, "key name does not hold a usable UTF-8 username")
            continue
        wanted.append((key, kind, username))
    for key, kind, username in wanted:
        if kind == "hash":
            pipe.hgetall(key)
        else:
            pipe.get(key)
        for action in keys.ACTION_TYPES:
            pipe.get(keys.action_time(username, action))
    replies = pipe.execute(raise_on_error=False)
    step = 1 + len(keys.ACTION_TYPES)
    accounts = []
    for i, (key, _kind, username) in enumerate(wanted):
        value, times = replies[i * step], replies[i * step + 1 : (i + 1) * step]
        account = _account(key, username, value, times, report)
        if account is not None:
            accounts.append(account)
    return accounts


def _account(
    key: bytes, username: str, value: Any, times: list[Any], report: Reporter
) -> LegacyAccount | None:
    if isinstance(value, Exception):  # its type changed since TYPE
        report(key, "twitter_data key changed type while being read")
        return None
    try:
        data = translate.twitter_data_fields(value)
        action_times = _action_times(username, times, report)
        record = translate.account_record(username, data, action_times)
    except ValueError as exc:  # messages name fields and reasons, never values
        report(key, str(exc))
        return None
    return LegacyAccount(key, username, record)


def _action_times(username: str, replies: list[Any], report: Reporter) -> dict[str, float]:
    times: dict[str, float] = {}
    for action, raw in zip(keys.ACTION_TYPES, replies, strict=True):
        if raw is None:
            continue
        key = keys.action_time(username, action)
        if isinstance(raw, Exception):
            report(key, "action-time key is not a string")
            continue
        try:
            value = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            value = None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            report(key, "action-time value is not a finite JSON number")
            continue
        times[action] = float(value)
    return times


class AccountKeysMigration(KeyMigration):
    unit = "accounts"
    pattern = keys.prefix_pattern(keys.TWITTER_DATA)

    def __init__(self, client: redis.Redis, migration_id: str = MIGRATION_ID, **kwargs: Any) -> None:
        super().__init__(client, migration_id, **kwargs)
        self._script = client.register_script(scripts.UPSERT_ACCOUNT)
        self._pending: list[LegacyAccount] = []

    def process(self, source_keys: list[bytes]) -> None:
        for start in range(0, len(source_keys), self.batch_size):
            chunk = source_keys[start : start + self.batch_size]
            accounts = read_accounts(self.client, chunk, self._report_key)
            self.stats.items += len(accounts)
            self.stats.processed += len(chunk)
            self._pending = accounts
            for key in chunk:
                self.finish_key(key)
            self.flush()

    def _report_key(self, key: bytes | str, reason: str) -> None:
        self.report(key, reason)  # no value: twitter_data holds tokens

    def take_batch(self) -> list[LegacyAccount] | None:
        accounts, self._pending = self._pending, []
        return accounts or None

    def write_batch(self, batch: list[LegacyAccount]) -> WriteOutcome:
        if self.dry_run:
            return self._count_changes(batch)
        outcome = WriteOutcome()
        pipe = self.client.pipeline(transaction=False)
        for account in batch:
            args: list[Any] = [account.record.model_dump_json()]
            for mode, field, value in account.updates():
                args += [mode, field, json.dumps(value)]
            self._script(keys=[account.record_key], args=args, client=pipe)
        for account, reply in zip(batch, pipe.execute(raise_on_error=False), strict=True):
            if isinstance(reply, Exception):
                reason = "cannot write the TwitterAccount record: " + str(reply).rsplit(
                    "caused error: ", 1
                )[-1]
                outcome.failed.append(bad_item(key_name(account.key), reason))
            elif reply == 1:
                outcome.created += 1
            elif reply == 2:
                outcome.updated += 1
        return outcome

    def _count_changes(self, accounts: list[LegacyAccount]) -> WriteOutcome:
        outcome = WriteOutcome()
        for account, existing in zip(accounts, fetch_records(self.client, accounts), strict=True):
            changed = account.changes(existing)
            if changed == ["*"]:
                outcome.created += 1
            elif changed:
                outcome.updated += 1
        return outcome


def fetch_records(client: redis.Redis, accounts: list[LegacyAccount]) -> list[dict[str, Any] | None]:
    """The stored records of these accounts (None where missing or not a JSON record)."""
    pipe = client.pipeline(transaction=False)
    for account in accounts:
        pipe.execute_command("JSON.GET", account.record_key, "$")
    out: list[dict[str, Any] | None] = []
    for reply in pipe.execute(raise_on_error=False):
        doc = json.loads(reply) if isinstance(reply, (bytes, str)) else None
        out.append(doc[0] if isinstance(doc, list) and doc and isinstance(doc[0], dict) else None)
    return out


def migrate_accounts(settings: RedisSettings, migration_id: str, options: RunOptions) -> StepStats:
    """The accounts step over the whole keyspace (what ``0003_accounts`` runs)."""
    client = pools.get_client(settings, decode=False)
    engine = AccountKeysMigration(
        client, migration_id, batch_size=options.batch_size, dry_run=options.dry_run,
        progress=options.progress,
    )
    options.results.append(engine.stats)
    return engine.run_scan()


def rollback_accounts(settings: RedisSettings, migration_id: str) -> int:
    """Delete every ``TwitterAccount`` record and this migration's state."""
    from .cleanup import delete_matching

    client = pools.get_client(settings, decode=False)
    deleted = delete_matching(client, keys.model_pattern(keys.ACCOUNT_PREFIX), "ReJSON-RL")
    return deleted + delete_matching(client, keys.migration_state_pattern(migration_id))
