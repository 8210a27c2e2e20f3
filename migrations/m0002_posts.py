"""0002: ``posted_tweets:{username}`` members -> ``Post`` records (legacy keys never written)."""

from __future__ import annotations

from redis_client.migrate import posts, steps


class PostsMigration(steps.Migration):
    migration_id = "0002_posts"
    description = "Post records from the posted_tweets:{username} sorted sets"
    dependencies: list[str] = ["0001_indexes"]

    async def up(self) -> None:
        await steps.up(self, posts.migrate_posts)

    async def down(self) -> None:
        await steps.down(self, posts.rollback_posts)

    async def can_run(self) -> bool:
        return await steps.can_run(self)
