"""``commands``: the migrate commands as functions; results out, only the package's errors raised."""

from __future__ import annotations

from pathlib import Path

import legacy_data
import pytest
import redis
from legacy_data import ALL_MIGRATIONS, Seeded, applied, assert_posts_exact, post_records, snapshot
from migration_packages import make_package

from redis_client.core import keys
from redis_client.core.errors import (
    MigrationFailedError,
    MigrationRefusedError,
    RedisClientError,
    UnknownMigrationError,
)
from redis_client.core.settings import RedisSettings, load_settings
from redis_client.embedded import EmbeddedRedis, free_port
from redis_client.migrate import commands
from redis_client.migrate.context import Partition

seeded = legacy_data.seeded  # the fixture

#: A migration whose step fails on the server (a pipeline command on a key of another type).
FAILING = '''
    from redis_client.migrate.context import Context
    from redis_client.migrate.report import StepStats

    migration_id = "0004_fails"
    description = "fails on the server"
    dependencies = ["0002_posts"]
    KEY = "redis_client_om:test:fails"


    def up(ctx: Context) -> StepStats:
        pipe = ctx.client().pipeline(transaction=False)
        pipe.set(KEY, "secret-value")
        pipe.lpush(KEY, "secret-value")  # WRONGTYPE; redis-py's message would echo the command
        pipe.execute()
        return StepStats(migration_id)


    dry_run = up


    def down(ctx: Context) -> int:
        return int(ctx.client().delete(KEY))
'''


def test_run_status_verify_rollback(raw: redis.Redis, seeded: Seeded, redis_settings: RedisSettings) -> None:
    before = snapshot(raw, legacy_only=False)
    dry = commands.run(redis_settings, dry_run=True)
    assert dry.ok and dry.pending == ALL_MIGRATIONS and dry.applied == [] and dry.dry_run
    assert [s.migration_id for s in dry.steps] == ALL_MIGRATIONS and all(s.dry_run for s in dry.steps)
    assert snapshot(raw, legacy_only=False) == before

    result = commands.run(redis_settings, batch_size=333)
    assert result.ok and result.applied == ALL_MIGRATIONS
    posts = result.steps[1]
    assert posts.items == seeded.valid_posts and posts.created == len(seeded.post_ids)
    assert all(s.seconds > 0 for s in result.steps)
    assert commands.run(redis_settings).pending == []
    assert commands.verify(redis_settings).ok

    status = commands.status(redis_settings)
    assert [(s.migration_id, s.applied) for s in status] == [(m, True) for m in ALL_MIGRATIONS]
    assert status[1].counters["items"] == seeded.valid_posts and status[1].dependencies == ("0001_indexes",)
    assert status[1].reported == seeded.bad_members + len(seeded.bad_post_keys)
    entries = list(commands.report("0002_posts", redis_settings))
    assert len(entries) == status[1].reported and all(e.key.startswith("posted_tweets:") for e in entries)

    back = commands.rollback(None, redis_settings)
    assert back.rolled_back == ALL_MIGRATIONS[::-1] and back.deleted > len(seeded.post_ids)
    assert snapshot(raw, legacy_only=False) == before
    assert commands.rollback(None, redis_settings).rolled_back == []


def test_refusals(raw: redis.Redis, seeded: Seeded, redis_settings: RedisSettings) -> None:
    with pytest.raises(UnknownMigrationError, match="unknown migration"):
        commands.rollback("0099_nope", redis_settings)
    with pytest.raises(UnknownMigrationError):
        list(commands.report("0099_nope", redis_settings))
    with pytest.raises(MigrationRefusedError, match="migrate run` first"):
        commands.resync(redis_settings)
    with pytest.raises(MigrationRefusedError, match="does not run in partitions"):
        commands.run_step("0003_accounts", redis_settings, partition=Partition(0, 2))
    assert commands.run(redis_settings).ok
    with pytest.raises(MigrationRefusedError, match="roll that back first"):
        commands.rollback("0001_indexes", redis_settings)
    assert applied(raw) == set(ALL_MIGRATIONS)


def test_an_unreachable_server_or_bad_settings_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    down = load_settings(url=f"redis://127.0.0.1:{free_port()}/0", startup_wait=0.2)
    for command in (commands.run, commands.status, commands.inventory, commands.verify):
        with pytest.raises(MigrationRefusedError, match="not ready"):
            command(down)
    monkeypatch.setenv("REDIS_PORT", "not-a-port")
    monkeypatch.delenv("REDIS_URL", raising=False)
    with pytest.raises(MigrationRefusedError, match="REDIS_PORT"):
        commands.status()


def test_a_server_without_modules_is_refused_but_inventoried() -> None:
    server = EmbeddedRedis(modules=False).start()
    try:
        settings = load_settings(url=server.url)
        with pytest.raises(MigrationRefusedError, match="lacks the JSON"):
            commands.run(settings)
        assert commands.inventory(settings).total == 0
        assert [s.applied for s in commands.status(settings)] == [False] * 3
    finally:
        server.stop()


def test_a_failing_step_is_a_result_not_an_exception(
    raw: redis.Redis, seeded: Seeded, redis_settings: RedisSettings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    package = make_package(tmp_path, monkeypatch, "failing_migrations", {"0004_fails.py": FAILING})
    result = commands.run(redis_settings, package=package)
    assert not result.ok and result.failed == "0004_fails"
    assert result.applied == ALL_MIGRATIONS  # those before it completed and stay applied
    assert result.error is not None and result.error.startswith("ResponseError: WRONGTYPE")
    assert "secret-value" not in result.error
    assert "0004_fails" not in applied(raw)
    again = commands.run(redis_settings, package=package)
    assert again.pending == ["0004_fails"] and again.failed == "0004_fails"


def test_resync_creates_what_other_services_wrote_since(
    raw: redis.Redis, seeded: Seeded, redis_settings: RedisSettings
) -> None:
    assert commands.run(redis_settings).ok
    raw.zadd(keys.posted_tweets("late"), {legacy_data.member(
        {"id": "late-1", "text": "t", "sender_username": "late", "timestamp": 5}): 5})
    result = commands.resync(redis_settings)
    assert result.ok and result.pending == ["0002_posts", "0003_accounts"] and result.applied == []
    assert result.steps[0].created == 1 and post_records(raw)["late-1"] == ["late"]
    assert commands.resync(redis_settings).steps[0].created == 0


def test_run_step_fresh_and_partitions(
    raw: redis.Redis, seeded: Seeded, redis_settings: RedisSettings
) -> None:
    parts = [commands.run_step("0002_posts", redis_settings, partition=Partition(i, 3)) for i in range(3)]
    assert sum(p.items for p in parts) == seeded.valid_posts
    assert_posts_exact(raw, seeded)
    assert applied(raw) == set()  # run_step never marks a migration applied
    assert commands.run_step("0002_posts", redis_settings, partition=Partition(1, 3)).already_done
    fresh = commands.run_step("0002_posts", redis_settings, partition=Partition(1, 3), fresh=True)
    assert not fresh.already_done and fresh.created == 0 and fresh.items == parts[1].items


def test_server_errors_become_the_packages_errors() -> None:
    with pytest.raises(MigrationFailedError, match="status failed: ConnectionError: gone"), \
            commands._failures("status"):
        raise redis.ConnectionError("gone")
    with pytest.raises(MigrationRefusedError), commands._failures("status"):
        raise MigrationRefusedError("kept as it is")
    assert issubclass(MigrationFailedError, RedisClientError)
