"""``redis_client.main``: import never connects, the shared db, ensure_delay_between_posts, decode_redis."""

from __future__ import annotations

import asyncio
import json
import math
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from conftest import HOSTILE_USERNAMES

from redis_client import main, models
from redis_client.db import RedisDB
from redis_client.embedded import free_port

PASSWORD = "hunter2-SECRET-pw"


def run_python(code: str, env_extra: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDIS_")}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=cwd,  # no .env file here
        capture_output=True,
        text=True,
        timeout=60,  # a hang fails the test instead of the suite
    )


def test_import_never_connects(tmp_path: Path) -> None:
    # A port that accepts TCP connections in the kernel but never answers: connecting would show
    # up as a pending connection, and a PING would block.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    try:
        code = (
            "import redis_client.main as m, redis_client.models, redis_client.ray_entrypoint\n"
            "import redis_client.aio\n"
            "from redis_client.models import Post\n"
            "db = m.get_redis_db()\n"
            "assert db is m.db and repr(db)\n"
            "Post(id='1', text='t', sender_username='a', timestamp=1)\n"
            "print('imported')\n"
        )
        env = {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(port), "REDIS_PASSWORD": PASSWORD}
        result = run_python(code, env, tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "imported"
        readable, _, _ = select.select([listener], [], [], 0)
        assert readable == [], "importing redis_client.main opened a connection"
    finally:
        listener.close()


def test_import_with_closed_port_then_first_command_fails_clearly(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    code = (
        "import redis, redis_client.main as m\n"
        "print('imported')\n"
        "try:\n"
        "    m.db.get('x')\n"
        "except redis.ConnectionError as exc:\n"
        "    print('ConnectionError')\n"
        "    print(str(exc))\n"
        "print(m.db.wait_for_redis(0.2))\n"
    )
    env = {
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(port),
        "REDIS_STARTUP_WAIT": "0.3",
        "REDIS_PASSWORD": PASSWORD,
    }
    result = run_python(code, env, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "imported"
    assert lines[1] == "ConnectionError"
    assert str(port) in lines[2]
    assert lines[-1] == "False"
    assert PASSWORD not in result.stdout + result.stderr


def test_get_redis_db_is_the_shared_db(redis_db: RedisDB) -> None:
    assert main.get_redis_db() is main.db is redis_db
    assert isinstance(main.db, main.RedisDB)
    assert main.Post is models.Post
    redis_db.set("k", 1)
    assert main.get_redis_db().get("k") == 1


def test_wait_for_redis(redis_db: RedisDB, redis_settings) -> None:
    assert redis_db.wait_for_redis(5) is True
    closed = RedisDB(redis_settings.model_copy(update={"url": f"redis://127.0.0.1:{free_port()}/0"}))
    assert closed.wait_for_redis(0.2) is False


def test_db_r_is_a_bytes_client(redis_db: RedisDB) -> None:
    assert isinstance(redis_db.r, redis.Redis)
    redis_db.r.set("direct", "v")
    assert redis_db.r.get("direct") == b"v"
    assert redis_db.get_keys_by_pattern("direct") == ["direct"]


# -- ensure_delay_between_posts ------------------------------------------------------------------


def add_post(db: RedisDB, username: str, timestamp: int) -> None:
    db.add_user_post(username, {"id": f"{username}-{timestamp}", "text": "t",
                                "sender_username": username, "timestamp": timestamp})


def test_ensure_delay_no_posts_no_wait(redis_db: RedisDB) -> None:
    assert asyncio.run(main.ensure_delay_between_posts("nobody", 5)) == 0.0
    assert asyncio.run(main.ensure_delay_between_posts("nobody else")) == 0.0


def test_ensure_delay_old_post_no_wait(redis_db: RedisDB) -> None:
    now = int(time.time())
    for name in ("alice", "alice2"):
        add_post(redis_db, name, now - 4000)
        add_post(redis_db, name, now - 3600)
    assert asyncio.run(main.ensure_delay_between_posts("alice", 60)) == 0.0
    # The default delay is 5-10 minutes: an hour-old post needs no wait either.
    assert asyncio.run(main.ensure_delay_between_posts("alice2")) == 0.0


def test_ensure_delay_waits_for_a_recent_post(redis_db: RedisDB) -> None:
    newest = math.ceil(time.time())  # whole seconds: up to 1 s in the future
    add_post(redis_db, "a:b*", newest - 5000)
    add_post(redis_db, "a:b*", newest)  # the newest post counts
    delay = 1.0
    waited = asyncio.run(main.ensure_delay_between_posts("a:b*", delay))
    assert 0 < waited < delay + 1
    # Another account's recent post does not make this one wait.
    assert asyncio.run(main.ensure_delay_between_posts("a:b", delay)) == 0.0


def test_ensure_delay_zero_means_no_wait(redis_db: RedisDB) -> None:
    add_post(redis_db, "bob", int(time.time()))
    assert asyncio.run(main.ensure_delay_between_posts("bob", 0)) == 0.0
    assert asyncio.run(main.ensure_delay_between_posts("bob", 0)) == 0.0  # the previous caller's too


def test_ensure_delay_legacy_fractional_member(redis_db: RedisDB, raw: redis.Redis) -> None:
    raw.zadd("posted_tweets:*", {'{"id": "1", "text": "t", "sender_username": "*", '
                                 '"timestamp": 1.5}': 1.5})
    assert asyncio.run(main.ensure_delay_between_posts("*", 10)) == 0.0
    for name in HOSTILE_USERNAMES:  # each account's first caller ("*" just took its slot)
        if name != "*":
            assert asyncio.run(main.ensure_delay_between_posts(name, 10)) == 0.0


# -- decode_redis -------------------------------------------------------------------------------


def test_decode_redis_on_real_replies(redis_db: RedisDB, raw: redis.Redis) -> None:
    raw.hset("twitter_data:é", mapping={"name": "É", "id": "1"})
    raw.zadd("z", {"m1": 1, "m2": 2})
    raw.sadd("s", "a", "b")
    assert main.decode_redis(raw.hgetall("twitter_data:é")) == {"name": "É", "id": "1"}
    assert main.decode_redis(raw.zrange("z", 0, -1, withscores=True)) == [("m1", 1.0), ("m2", 2.0)]
    assert main.decode_redis(raw.smembers("s")) == {"a", "b"}
    assert main.decode_redis(raw.keys("twitter_data:*")) == ["twitter_data:é"]
    assert main.decode_redis(raw.get("missing")) is None


FIRST_COMMAND = {
    "sync": "from redis_client.main import db\nassert db.get('nothing') is None\n",
    "async": (
        "import asyncio\nfrom redis_client.aio import db\n"
        "async def main():\n    assert await db.get('nothing') is None\n"
        "asyncio.run(main())\n"
    ),
}


@pytest.mark.parametrize("facade", ["sync", "async"])
def test_prompt_map_is_stored_by_the_first_command_of_a_process(
    redis_db: RedisDB, raw: redis.Redis, redis_settings, tmp_path: Path, facade: str
) -> None:
    """The original stored ``function_variables`` at startup and services read it there."""
    raw.delete("function_variables")
    code = "import redis_client.main, redis_client.aio\n" + FIRST_COMMAND[facade]
    env = {"REDIS_URL": redis_settings.url}
    imported_only = run_python("import redis_client.main, redis_client.aio", env, tmp_path)
    assert imported_only.returncode == 0, imported_only.stderr
    assert not raw.exists("function_variables"), "importing wrote the map"
    result = run_python(code, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(raw.get("function_variables")) == main.db.function_variables
    assert json.loads(raw.get("function_variables"))["create_tweet"] == [
        "project_tweets", "my_tweets", "relevant_knowledge"
    ]


def test_prompt_map_is_stored_once_per_process(redis_db: RedisDB, raw: redis.Redis) -> None:
    raw.delete("function_variables")
    redis_db.get("x")  # the fixture's db already made its first command
    assert not raw.exists("function_variables")
    fresh = RedisDB(redis_db.settings)
    fresh.get("x")
    assert raw.exists("function_variables")
    raw.delete("function_variables")
    fresh.get("x")
    assert not raw.exists("function_variables")
