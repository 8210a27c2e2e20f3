"""0003: ``twitter_data:{username}`` + action-time keys -> ``TwitterAccount`` records (no tokens)."""

from __future__ import annotations

from redis_client.migrate import accounts, steps


class AccountsMigration(steps.Migration):
    migration_id = "0003_accounts"
    description = "TwitterAccount records from twitter_data:{username} and the action-time keys"
    dependencies: list[str] = ["0001_indexes"]

    async def up(self) -> None:
        await steps.up(self, accounts.migrate_accounts)

    async def down(self) -> None:
        await steps.down(self, accounts.rollback_accounts)

    async def can_run(self) -> bool:
        return await steps.can_run(self)
