"""PEP 561: a user's type checker sees the package's types (``py.typed`` is shipped)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

USER_CODE = '''
from models import Post
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
    assert (installed / "models" / "py.typed").is_file()


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
    assert 'agent.py:17: note: Revealed type is "list[models.post.Post]"' in out, out
    assert 'agent.py:18: note: Revealed type is "typing.Coroutine[Any, Any, list[models.post.Post]]"' in out
    assert 'agent.py:19: note: Revealed type is "float"' in out, out
    assert "agent.py:20: error: Incompatible types in assignment" in out, out
    assert 'agent.py:21: error: Argument 1 has incompatible type "int"; expected "str"' in out, out
    assert "agent.py:9" not in out and "agent.py:13" not in out, out  # the well-typed agents pass
    assert "py.typed" not in out and "missing library stubs" not in out, out
