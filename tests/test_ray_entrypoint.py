"""Ray: the entry point and RedisDB crossing process boundaries, on a local Ray and the test server."""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Iterator

import pytest

from redis_client.db import RedisDB
from redis_client.models import Post

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def ray_local(redis_settings) -> Iterator[None]:
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"REDIS_URL": redis_settings.url}},
    )
    yield
    ray.shutdown()


def test_import_does_not_start_or_import_ray():
    code = (
        "import sys; import redis_client.ray_entrypoint as e; "
        "assert 'ray' not in sys.modules, 'ray imported'; print(e.main.__name__)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "main"


def test_redisdb_pickles_by_settings_and_reconnects(redis_db):
    redis_db.set("k", {"v": 1})
    copy = pickle.loads(pickle.dumps(redis_db))
    assert isinstance(copy, RedisDB) and copy is not redis_db
    assert copy.settings == redis_db.settings
    assert copy.get("k") == {"v": 1}
    assert copy.r.connection_pool is redis_db.r.connection_pool  # one pool per process


def test_main_called_directly_returns_working_db(redis_db):
    from redis_client.ray_entrypoint import main

    db = main()
    assert isinstance(db, RedisDB)
    db.set("direct", 1)
    assert redis_db.get("direct") == 1


def test_remote_proxy_writes_posts_visible_to_driver(redis_db, ray_local):
    from redis_client.ray_entrypoint import main

    proxy = ray.get(main.remote())
    assert isinstance(proxy, RedisDB)
    proxy.add_user_post("alice", Post(id="r1", text="from ray", sender_username="alice", timestamp=5))
    assert [p.id for p in redis_db.get_user_posts("alice")] == ["r1"]
    assert Post.get("r1").accounts == ["alice"]


def test_four_tasks_two_hundred_posts_each_exact_counts(redis_db, ray_local):
    @ray.remote
    def write(db: RedisDB, worker: int) -> int:
        for i in range(200):
            db.add_user_post(
                "shared",
                {"id": f"w{worker}-{i}", "text": f"post {i}", "sender_username": "shared",
                 "timestamp": 1_700_000_000 + i},
            )
        return worker

    done = ray.get([write.remote(redis_db, w) for w in range(4)])
    assert sorted(done) == [0, 1, 2, 3]
    assert redis_db.r.zcard("posted_tweets:shared") == 800
    assert Post.find(Post.accounts == "shared").count() == 800
    assert len(redis_db.get_user_posts("shared")) == 800
