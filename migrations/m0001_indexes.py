"""0001: the search indexes of ``Post`` and ``TwitterAccount`` (down drops them, not the records)."""

from __future__ import annotations

from redis_client.migrate import indexes, steps


class IndexesMigration(steps.Migration):
    migration_id = "0001_indexes"
    description = "Create the Post and TwitterAccount search indexes"
    dependencies: list[str] = []

    async def up(self) -> None:
        await steps.up(self, indexes.create_indexes)

    async def down(self) -> None:
        await steps.down(self, indexes.drop_indexes)

    async def can_run(self) -> bool:
        return await steps.can_run(self)
