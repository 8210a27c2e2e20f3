"""``TwitterAccount`` records from ``twitter_data:{username}`` and the action-time keys.

Migration ID: 0003_accounts
Depends on: 0001_indexes

Accounts are read and upserted by ``redis_client.records.accounts``: token fields are never
copied, no ``twitter_data`` value reaches a report or a log line, a missing record is created,
an existing one gets the metadata that differs and the action times that are newer. A record
that already matches is not written, so a second run writes nothing. ``down`` deletes every
``TwitterAccount`` record.
"""

from __future__ import annotations

from redis_client.core import keys
from redis_client.migrate.context import Context
from redis_client.migrate.engine import KeyMigration
from redis_client.migrate.report import StepStats
from redis_client.migrate.writer import WriteOutcome
from redis_client.records.accounts import CREATED, UPDATED, LegacyAccount, read_accounts, upsert
from redis_client.records.bad import bad_item, key_name

migration_id = "0003_accounts"
description = "TwitterAccount records from twitter_data:{username} and the action-time keys"
dependencies = ["0001_indexes"]
resync = True


class AccountKeys(KeyMigration):
    unit = "accounts"
    pattern = keys.prefix_pattern(keys.TWITTER_DATA)

    def __init__(self, ctx: Context, *, dry_run: bool = False) -> None:
        super().__init__(ctx, dry_run=dry_run)
        self._pending: list[LegacyAccount] = []

    def process(self, source_keys: list[bytes]) -> None:
        for start in range(0, len(source_keys), self.batch_size):
            chunk = source_keys[start : start + self.batch_size]
            # A Reporter never gets a value: twitter_data holds tokens.
            accounts = self.ctx.run(read_accounts(chunk, self.report))
            self.stats.items += len(accounts)
            self.stats.processed += len(chunk)
            self._pending = accounts
            for key in chunk:
                self.finish_key(key)
            self.flush()

    def take_batch(self) -> list[LegacyAccount] | None:
        accounts, self._pending = self._pending, []
        return accounts or None

    def write_batch(self, batch: list[LegacyAccount]) -> WriteOutcome:
        outcome = WriteOutcome()
        for account, done in zip(batch, self.ctx.run(upsert(batch, check=self.dry_run)), strict=True):
            if done.error is not None:
                outcome.failed.append(bad_item(key_name(account.key), done.error))
            elif done.code == CREATED:
                outcome.created += 1
            elif done.code == UPDATED:
                outcome.updated += 1
        return outcome


def up(ctx: Context) -> StepStats:
    return AccountKeys(ctx).run()


def dry_run(ctx: Context) -> StepStats:
    return AccountKeys(ctx, dry_run=True).run()


def down(ctx: Context) -> int:
    return ctx.delete_records(keys.ACCOUNT_PREFIX)
