"""``discovery``: migration files found in a package and ordered by their dependencies; adding a
migration is adding one file (proved with a 0004 next to the real ones)."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import legacy_data
import pytest
import redis
from doc_examples import ROOT, examples
from legacy_data import Seeded, applied, snapshot
from migration_packages import make_package

from redis_client.core import keys
from redis_client.core.errors import MigrationDefinitionError, MigrationRefusedError, UnknownMigrationError
from redis_client.core.settings import RedisSettings
from redis_client.migrate import commands, discovery
from redis_client.migrate.discovery import Migration
from redis_client.migrate.report import StepStats

seeded = legacy_data.seeded  # the fixture


def _m(mid: str, *deps: str) -> Migration:
    def step(ctx: Any) -> StepStats:
        return StepStats(mid)

    return Migration(mid, f"migration {mid}", deps, step, step, lambda ctx: 0, module=f"test.{mid}")


def _ids(found: list[Migration]) -> list[str]:
    return [m.id for m in found]


def test_the_real_migrations_in_dependency_order() -> None:
    found = discovery.load()
    assert _ids(found) == ["0001_indexes", "0002_posts", "0003_accounts"]
    by_id = {m.id: m for m in found}
    assert by_id["0002_posts"].dependencies == ("0001_indexes",) and by_id["0002_posts"].partitioned
    assert by_id["0003_accounts"].resync and not by_id["0001_indexes"].resync
    assert all(m.description and m.module == f"redis_client.migrations.{m.id}" for m in found)


def test_order_comes_from_dependencies_not_names() -> None:
    shuffled = [_m("a", "c"), _m("d"), _m("c", "b"), _m("b", "d"), _m("e", "d")]
    assert _ids(discovery.ordered(shuffled)) == ["d", "b", "c", "a", "e"]
    assert _ids(discovery.ordered([_m("b"), _m("a")])) == ["a", "b"]  # ties: by ID
    assert discovery.dependents(shuffled, "d") == ["b", "e"]


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([_m("a", "b"), _m("b", "a"), _m("c")], "circular dependencies: a, b"),
        ([_m("a", "a")], "circular"),
        ([_m("a", "zz")], "depends on unknown migration(s) zz"),
        ([_m("a"), _m("a")], "defined twice"),
    ],
)
def test_bad_definitions_are_refused(items: list[Migration], message: str) -> None:
    with pytest.raises(MigrationDefinitionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        discovery.ordered(items)


def test_a_file_must_define_its_parts() -> None:
    module = types.ModuleType("pkg.0009_x")
    with pytest.raises(MigrationDefinitionError, match="migration_id"):
        discovery.from_module(module)
    module.migration_id, module.description = "0009_x", "x"
    with pytest.raises(MigrationDefinitionError, match=r"function up\(ctx\)"):
        discovery.from_module(module)
    module.up = module.dry_run = module.down = lambda ctx: None
    module.dependencies = "0001_indexes"  # a str, not a list
    with pytest.raises(MigrationDefinitionError, match="dependencies"):
        discovery.from_module(module)
    module.dependencies = ["0001_indexes"]
    assert discovery.from_module(module).dependencies == ("0001_indexes",)


def test_unknown_ids_and_packages() -> None:
    with pytest.raises(UnknownMigrationError, match="unknown migration '0099'"):
        discovery.find(discovery.load(), "0099")
    with pytest.raises(MigrationDefinitionError):
        discovery.load("no_such_package_here")


# --- adding a migration: one file ---

#: What a new migration file looks like (a record per account with its number of posts): the
#: example of docs/migrations.md, run here as the file it shows.
NEW_MIGRATION = next(
    e.code for e in examples(ROOT / "docs" / "migrations.md") if "Migration ID: 0004_post_counts" in e.code
)


@pytest.fixture
def with_0004(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A package holding the real migrations and one new file."""
    return make_package(tmp_path, monkeypatch, "more_migrations", {"0004_post_counts.py": NEW_MIGRATION})


def test_adding_a_migration(
    raw: redis.Redis, seeded: Seeded, redis_settings: RedisSettings, with_0004: str
) -> None:
    found = discovery.load(with_0004)
    assert _ids(found) == ["0001_indexes", "0002_posts", "0003_accounts", "0004_post_counts"]
    accounts = len(seeded.posts_per_account)
    legacy = snapshot(raw)

    dry = commands.run(redis_settings, dry_run=True, package=with_0004)
    assert dry.ok and dry.steps[-1].migration_id == "0004_post_counts" and dry.steps[-1].created == accounts
    assert applied(raw) == set() and not raw.keys("redis_client_om:postcount:*")

    result = commands.run(redis_settings, package=with_0004)
    assert result.ok and result.applied == _ids(found), result
    assert result.steps[-1].items == accounts and result.steps[-1].skipped == 1  # posted_tweets:wrongtype
    for user in ("user:with:colons", "star*name?"):
        record = raw.execute_command("JSON.GET", keys.model_key("postcount", user), "$.posts")
        assert record == f"[{raw.zcard(keys.posted_tweets(user))}]".encode()
    assert commands.run(redis_settings, package=with_0004).pending == []
    status = {s.migration_id: s for s in commands.status(redis_settings, package=with_0004)}
    assert status["0004_post_counts"].applied and status["0004_post_counts"].reported == 1

    with pytest.raises(MigrationRefusedError, match="0004_post_counts depend"):
        commands.rollback("0003_accounts", redis_settings, package=with_0004)
    back = commands.rollback("0004_post_counts", redis_settings, package=with_0004)
    assert back.rolled_back == ["0004_post_counts"]
    assert not raw.keys("redis_client_om:postcount:*") and not raw.keys("redis_client_om:migration:0004*")
    assert applied(raw) == {"0001_indexes", "0002_posts", "0003_accounts"}
    assert commands.run(redis_settings).pending == []  # the real package does not know 0004
    assert commands.rollback(None, redis_settings, package=with_0004).rolled_back == [
        "0003_accounts", "0002_posts", "0001_indexes"
    ]
    assert snapshot(raw) == legacy  # no legacy key was written at any point
