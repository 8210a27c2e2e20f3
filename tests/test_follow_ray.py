"""A follower as a long-lived Ray actor: settings cross, connections are opened in the actor."""

from __future__ import annotations

import sys

import pytest
import redis
from follow_helpers import FAST, record, wait_until, zadd

from redis_client.core.settings import RedisSettings

ray = pytest.importorskip("ray")

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("redis_db")]


def test_importing_the_actor_module_does_not_import_ray():
    import subprocess

    code = "import sys, redis_client.follow.ray_actor; assert 'ray' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_follower_actor_follows_and_stops(raw: redis.Redis, redis_settings: RedisSettings):
    from redis_client.follow.ray_actor import start_follower_actor

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        actor = start_follower_actor(redis_settings, FAST, name="test-follower")
        assert ray.get(actor.wait_ready.remote(60))
        zadd(raw, "alice", "from-actor")
        wait_until(lambda: record(raw, "from-actor"), timeout=20, what="a record written by the actor")
        stats = ray.get(actor.stats.remote())
        assert stats["leading"] and stats["mode"] == "notifications" and stats["posts_written"] >= 1
        assert ray.get(actor.stop.remote())
    finally:
        ray.shutdown()
