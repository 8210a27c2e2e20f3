"""The accounts step: ``TwitterAccount`` records from the legacy accounts (``redis_client.records.accounts``).

A second run writes nothing: a record that already matches is not written.
"""

from __future__ import annotations

import logging
from typing import Any

import redis

from ..core import keys, pools
from ..core.connector import Connector
from ..core.drivers import SyncDriver
from ..core.settings import RedisSettings
from ..records.accounts import CREATED, UPDATED, LegacyAccount, read_accounts, upsert
from .engine import KeyMigration, key_name
from .options import RunOptions
from .report import StepStats, bad_item
from .writer import WriteOutcome

log = logging.getLogger("redis_client.migrate")

MIGRATION_ID = "0003_accounts"


class AccountKeysMigration(KeyMigration):
    unit = "accounts"
    pattern = keys.prefix_pattern(keys.TWITTER_DATA)

    def __init__(self, client: redis.Redis, migration_id: str = MIGRATION_ID, **kwargs: Any) -> None:
        super().__init__(client, migration_id, **kwargs)
        self._pending: list[LegacyAccount] = []

    def process(self, source_keys: list[bytes]) -> None:
        for start in range(0, len(source_keys), self.batch_size):
            chunk = source_keys[start : start + self.batch_size]
            accounts = self.driver.run(read_accounts(chunk, self._report_key))
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
        outcome = WriteOutcome()
        for account, done in zip(batch, self.driver.run(upsert(batch, check=self.dry_run)), strict=True):
            if done.error is not None:
                outcome.failed.append(bad_item(key_name(account.key), done.error))
            elif done.code == CREATED:
                outcome.created += 1
            elif done.code == UPDATED:
                outcome.updated += 1
        return outcome


def migrate_accounts(settings: RedisSettings, migration_id: str, options: RunOptions) -> StepStats:
    """The accounts step over the whole keyspace (what ``0003_accounts`` runs)."""
    connector = Connector(settings)
    engine = AccountKeysMigration(
        connector.client(), migration_id, driver=SyncDriver(connector), batch_size=options.batch_size,
        dry_run=options.dry_run, progress=options.progress,
    )
    options.results.append(engine.stats)
    return engine.run_scan()


def rollback_accounts(settings: RedisSettings, migration_id: str) -> int:
    """Delete every ``TwitterAccount`` record and this migration's state."""
    from .cleanup import delete_matching

    client = pools.get_client(settings, decode=False)
    deleted = delete_matching(client, keys.model_pattern(keys.ACCOUNT_PREFIX), "ReJSON-RL")
    return deleted + delete_matching(client, keys.migration_state_pattern(migration_id))
