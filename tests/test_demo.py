"""`redis-client demo`: the quickstart end to end, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys

import redis


def _run_demo(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "redis_client", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("REDIS_")}


def test_demo_on_configured_server_cleans_up(redis_db, redis_settings):
    env = _clean_env() | {"REDIS_URL": redis_settings.url}
    before = set(redis_db.r.keys("*")) - {k for k in redis_db.r.keys("redis_client_om:schema:*")}
    result = _run_demo(env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "using Redis at redis://127.0.0.1" in out
    assert "db.get returns {'name': 'Alice', 'active': True}" in out
    assert "db.get_user_posts -> 1 post(s): ['Hello world!']" in out
    assert "\"sender_username\": \"demo-alice\"" in out
    assert "Post.find(Post.sender_username == 'demo-alice')" in out and "['demo-alice']" in out
    assert "count() -> 1" in out
    assert "await aio db.get_user_posts -> ['Hello world!', 'Hello from asyncio']" in out
    assert "afirst() -> 'Hello from asyncio'" in out
    after = {k for k in redis_db.r.keys("*") if not k.startswith(b"redis_client_om:schema:")}
    assert after == before, "the demo left keys behind"


def test_demo_starts_embedded_server_when_nothing_configured():
    # Nothing configured (no REDIS_* variable): the demo tries localhost:6379, then embeds.
    env = _clean_env()
    probe = redis.Redis(port=6379, socket_connect_timeout=0.2)
    try:
        probe.ping()
        occupied = True
    except redis.ConnectionError:
        occupied = False
    if occupied:
        import pytest

        pytest.skip("a Redis answers on localhost:6379; the demo would use it")
    result = _run_demo(env | {"HOME": env.get("HOME", "/tmp")})
    assert result.returncode == 0, result.stderr
    assert "starting an embedded one" in result.stdout
    assert "embedded Redis with search+JSON on redis://127.0.0.1:" in result.stdout
    assert "Post.find(Post.text % 'hello').count() -> 1" in result.stdout
    assert "embedded Redis stopped" in result.stdout


def test_demo_skips_a_local_redis_without_the_modules():
    """A plain Redis on localhost:6379 (say Debian's redis-server 7) cannot hold model records:
    the demo says so and runs on an embedded server instead of failing half-way."""
    import pytest

    from redis_client.core.errors import EmbeddedServerError
    from redis_client.embedded import EmbeddedRedis

    try:
        plain = EmbeddedRedis(port=6379, modules=False).start()
    except EmbeddedServerError:
        pytest.skip("localhost:6379 is taken")
    try:
        result = _run_demo(_clean_env())
        assert result.returncode == 0, result.stderr
        assert "redis://localhost:6379/0 lacks the JSON" in result.stdout
        assert "embedded Redis with search+JSON on redis://127.0.0.1:" in result.stdout
        assert "Post.find(Post.text % 'hello').count() -> 1" in result.stdout
        assert redis.Redis(port=6379).dbsize() == 0, "the demo wrote to the plain server"
    finally:
        plain.stop()
