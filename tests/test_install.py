"""What a user installs: only the ``redis_client`` package (its models and migrations inside it,
so an application's own ``models`` and ``migrations`` stay its own), and its types (PEP 561)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

USER_CODE = '''
from redis_client.models import Post
from redis_client.aio import AsyncRedisDB
from redis_client.aio import db as adb
from redis_client.main import RedisDB, db


def sync_agent(redis_db: RedisDB) -> list[Post]:
    return redis_db.get_user_posts("alice")


async def async_agent(redis_db: AsyncRedisDB) -> int:
    await redis_db.add_user_post("alice", Post(id="1", text="t", sender_username="alice", timestamp=1))
    return len(await redis_db.get_user_posts("alice"))


reveal_type(db.get_user_posts("alice"))
reveal_type(adb.get_user_posts("alice"))  # line 18
reveal_type(db.get_account_last_action_time("alice", "last_likes_time"))
wrong: int = db.get_user_posts("alice")
db.add_user_post(42)
'''


#: Every Lua script of ``redis_client.core.scripts`` (package data: the wheel must hold the files).
SCRIPTS = [
    "add_posts", "add_records", "follow_drop_account", "follow_drop_record", "follow_read",
    "follow_set_fingerprint", "follow_unlink_posts", "follow_unlink_records", "merge_record",
    "posting_release", "posting_reserve", "remove_account", "save_link", "set_action_time",
    "upsert_account",
]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package installed as a user installs it (a built wheel, not this source tree)."""
    target = tmp_path_factory.mktemp("site")
    # From a copy: setuptools reuses a build/ directory left in the tree, maybe stale.
    source = tmp_path_factory.mktemp("source") / "redis-client"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", ".drafts"))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        check=True, capture_output=True, timeout=300,
    )
    return target


def test_py_typed_is_in_the_installed_package(installed: Path) -> None:
    assert (installed / "redis_client" / "py.typed").is_file()
    assert (installed / "redis_client" / "models" / "py.typed").is_file()


def test_a_type_checker_sees_the_types_of_db_post_and_redisdb(installed: Path, tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    (tmp_path / "agent.py").write_text(USER_CODE)
    env = {**os.environ, "PYTHONPATH": str(installed)}
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--strict", "--follow-imports=silent",
         "agent.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    out = done.stdout
    assert 'agent.py:17: note: Revealed type is "list[redis_client.models.post.Post]"' in out, out
    coroutine = "typing.Coroutine[Any, Any, list[redis_client.models.post.Post]]"
    assert f'agent.py:18: note: Revealed type is "{coroutine}"' in out, out
    assert 'agent.py:19: note: Revealed type is "float"' in out, out
    assert "agent.py:20: error: Incompatible types in assignment" in out, out
    # The checker sees the method as written: it names it.
    wrong_arg = 'Argument 1 to "add_user_post" of "RedisDB" has incompatible type "int"; expected "str"'
    assert f"agent.py:21: error: {wrong_arg}" in out, out
    assert "agent.py:9" not in out and "agent.py:13" not in out, out  # the well-typed agents pass
    assert "py.typed" not in out and "missing library stubs" not in out, out


APP_MODELS = "WHOSE = 'the app'\n"
APP_CODE = """
import models, migrations
import redis_client.main
from redis_client.models import Post, TwitterAccount
from redis_client.migrations import MIGRATIONS
from redis_client.migrate.discovery import load
print(models.WHOSE, migrations.WHOSE, Post.__module__, TwitterAccount.__module__,
      [m.id for m in load()], len(MIGRATIONS))
"""
EXPECTED = (
    "the app the app's migrations redis_client.models.post redis_client.models.account "
    "['0001_indexes', '0002_posts', '0003_accounts'] 3"
)


def _app(tmp_path: Path) -> Path:
    """A FastAPI-style application folder with its own ``models.py`` and ``migrations/``."""
    app = tmp_path / "app"
    (app / "migrations").mkdir(parents=True)
    (app / "models.py").write_text(APP_MODELS)
    (app / "migrations" / "__init__.py").write_text("WHOSE = \"the app's migrations\"\n")
    (app / "main.py").write_text(APP_CODE)
    return app


def test_only_redis_client_is_installed(installed: Path) -> None:
    packages = [p for p in installed.iterdir() if p.is_dir() and p.name != "bin"]
    top_level = {p.name for p in packages if not p.name.endswith(".dist-info")}
    assert top_level == {"redis_client"}
    assert (installed / "redis_client" / "models" / "post.py").is_file()
    assert (installed / "redis_client" / "migrations" / "0002_posts.py").is_file()
    scripts = installed / "redis_client" / "core" / "scripts"
    assert sorted(p.stem for p in scripts.glob("*.lua")) == sorted(SCRIPTS)



def test_an_app_with_its_own_models_and_migrations_imports_both(installed: Path, tmp_path: Path) -> None:
    app = _app(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(installed)}
    done = subprocess.run([sys.executable, "main.py"], cwd=app, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == EXPECTED


def test_the_editable_install_keeps_the_app_its_own_names(tmp_path: Path) -> None:
    """The development install (this checkout) behaves the same in the app's folder."""
    app = _app(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "main.py"], cwd=app, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == EXPECTED
