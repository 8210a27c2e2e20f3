"""The asyncio facade: what only it has (event loops, aclose, the non-blocking waits), on a real server.

What both facades share is tested once for both, through the parametrized ``db`` fixture
(``test_values.py``, ``test_posts.py``, ``test_accounts.py``...).
"""

from __future__ import annotations

import asyncio
import pickle
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
import redis
import redis.asyncio
from conftest import post_fields

from redis_client import aio, main, models
from redis_client.aio import AsyncRedisDB, ensure_delay_between_posts
from redis_client.core import keys
from redis_client.core.errors import InvalidPostError, ServerUnavailableError
from redis_client.core.settings import RedisSettings, load_settings
from redis_client.embedded import free_port
from redis_client.models import Post, TwitterAccount


class Ticker:
    """Counts the 10 ms ticks a loop manages while something else runs on it."""

    def __init__(self) -> None:
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.01)
            self.ticks += 1

    def __enter__(self) -> Ticker:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


def test_module_exports_and_import_never_connects() -> None:
    code = (
        "import os; os.environ['REDIS_URL'] = 'redis://127.0.0.1:1/0'\n"
        "from redis_client.aio import db, AsyncRedisDB, get_redis_db, Post, ensure_delay_between_posts\n"
        "assert get_redis_db() is db and isinstance(db, AsyncRedisDB)\n"
        "import asyncio, redis.asyncio\n"
        "async def main():\n"
        "    assert isinstance(db.r, redis.asyncio.Redis)\n"
        "asyncio.run(main())\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_shared_db_from_one_loop_after_another(async_redis_db: AsyncRedisDB) -> None:
    async def write(i: int) -> list[str]:
        await aio.db.add_user_post("alice", post_fields(i))
        return [p.id for p in await aio.db.get_user_posts("alice")]

    assert asyncio.run(write(1)) == ["tw1"]
    assert asyncio.run(write(2)) == ["tw1", "tw2"]  # a new loop: new connections, same db
    assert [p.id for p in main.db.get_user_posts("alice")] == ["tw1", "tw2"]


def test_shared_db_from_loops_side_by_side(async_redis_db: AsyncRedisDB) -> None:
    errors: list[BaseException] = []

    async def agent(t: int) -> None:
        for i in range(40):
            await aio.db.add_user_post(f"acc{t}", post_fields(t * 1000 + i, f"acc{t}"))
            found = await Post.find(Post.accounts == f"acc{t}").acount()
            assert found == i + 1

    def thread(t: int) -> None:
        try:
            asyncio.run(agent(t))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=thread, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert sum(len(main.db.get_user_posts(f"acc{t}")) for t in range(4)) == 160


def test_aclose_and_async_with_leave_the_shared_db_working(
    async_redis_db: AsyncRedisDB, redis_settings: RedisSettings
) -> None:
    async def scenario() -> None:
        async with AsyncRedisDB(redis_settings) as own:
            await own.set("k", {"v": 1})
        assert await own.get("k") == {"v": 1}  # closed: the next call reconnects
        await own.aclose()
        await aio.db.aclose()
        assert await aio.db.get("k") == {"v": 1}
        copy = pickle.loads(pickle.dumps(own))
        assert isinstance(copy, AsyncRedisDB) and copy is not own
        assert await copy.get("k") == {"v": 1}
        await copy.aclose()

    asyncio.run(scenario())
    assert main.db.get("k") == {"v": 1}


def test_item_assignment_is_refused_with_the_coroutine_to_use(async_redis_db: AsyncRedisDB) -> None:
    with pytest.raises(TypeError, match="await db.set"):
        async_redis_db["k"] = 1
    with pytest.raises(TypeError, match="await db.delete"):
        del async_redis_db["k"]

    async def read() -> Any:
        await async_redis_db.set("k", [1])
        return await async_redis_db["k"]

    assert asyncio.run(read()) == [1]


def test_bad_post_raises_before_anything_is_awaited_on_the_server(
    async_redis_db: AsyncRedisDB, raw: redis.Redis
) -> None:
    before = set(raw.keys())

    async def bad() -> None:
        await async_redis_db.add_user_post("alice", {"id": "x", "text": "t"})

    with pytest.raises(InvalidPostError, match="sender_username"):
        asyncio.run(bad())
    assert set(raw.keys()) == before


def test_startup_wait_keeps_the_loop_running_then_a_clear_error() -> None:
    settings = load_settings(url=f"redis://127.0.0.1:{free_port()}/0", startup_wait=1.0)

    async def scenario() -> tuple[int, float]:
        adb = AsyncRedisDB(settings)
        with Ticker() as ticker:
            started = time.monotonic()
            with pytest.raises(ServerUnavailableError, match="REDIS_STARTUP_WAIT"):
                await adb.get("k")
            waited = time.monotonic() - started
        return ticker.ticks, waited

    ticks, waited = asyncio.run(scenario())
    assert waited >= 0.9
    # A blocking wait would leave the ticker no turn at all; generous bound, not a timing test.
    assert ticks >= 10


def test_wait_for_redis_is_false_when_nothing_answers_and_never_raises() -> None:
    adb = AsyncRedisDB(load_settings(url=f"redis://127.0.0.1:{free_port()}/0"))
    assert asyncio.run(adb.wait_for_redis(0.3)) is False


def test_wait_for_redis_true_on_a_live_server(async_redis_db: AsyncRedisDB) -> None:
    assert asyncio.run(async_redis_db.wait_for_redis(2)) is True


@pytest.mark.parametrize("entry", [aio.ensure_delay_between_posts, main.ensure_delay_between_posts])
def test_ensure_delay_between_posts_lets_other_tasks_run(async_redis_db: AsyncRedisDB, entry: Any) -> None:
    # Timestamps are whole seconds: up to 1 s of the delay may already have passed, so a 2 s
    # delay leaves about 1 s of waiting or more (a 1 s delay could leave a few milliseconds).
    main.db.add_user_post("alice", post_fields(1, timestamp=int(time.time())))

    async def scenario() -> tuple[float, int, float]:
        with Ticker() as ticker:
            waited = await entry("alice", delay=2)
            none = await entry("nobody", delay=2)
        return waited, ticker.ticks, none

    waited, ticks, none = asyncio.run(scenario())
    assert 0.5 < waited <= 2 and none == 0.0
    assert ticks >= 10


def test_ensure_delay_is_one_coroutine_for_both_entry_points() -> None:
    assert main.ensure_delay_between_posts is ensure_delay_between_posts
    assert asyncio.iscoroutinefunction(ensure_delay_between_posts)


# -- model queries from asyncio code --------------------------------------------------------------


def test_async_queries_match_the_sync_ones(async_redis_db: AsyncRedisDB) -> None:
    for i in (3, 1, 2):
        main.db.add_user_post("alice", post_fields(i))
    main.db.add_user_post("bob", post_fields(9, "bob"))
    main.db.add_user_post("bob", post_fields(1))  # the same post in bob's history too
    query = Post.find(Post.sender_username == "alice").sort_by("-timestamp")

    async def scenario() -> dict[str, Any]:
        return {
            "all": [p.id for p in await query.aall()],
            "first": (await query.afirst()).id,
            "count": await query.acount(),
            "page": [p.id for p in await query.apage(offset=1, limit=1)],
            "get": await Post.aget("tw1"),
            "shared": [p.id for p in await Post.find(Post.accounts == "bob").sort_by("timestamp").aall()],
        }

    found = asyncio.run(scenario())
    assert found["all"] == [p.id for p in query.all()] == ["tw3", "tw2", "tw1"]
    assert found["first"] == query.first().id == "tw3"
    assert found["count"] == query.count() == 3
    assert found["page"] == [p.id for p in query.page(offset=1, limit=1)] == ["tw2"]
    assert found["get"] == Post.get("tw1") and found["get"].accounts == ["alice", "bob"]
    assert found["shared"] == ["tw1", "tw9"]


def test_async_get_of_a_missing_record_and_first_of_nothing(async_redis_db: AsyncRedisDB) -> None:
    from redis_om import NotFoundError

    async def scenario() -> None:
        with pytest.raises(NotFoundError):
            await Post.aget("missing")
        with pytest.raises(NotFoundError):
            await Post.find(Post.sender_username == "nobody").afirst()
        assert await TwitterAccount.find().aall() == []

    asyncio.run(scenario())


def test_async_queries_escape_user_values_like_the_sync_ones(async_redis_db: AsyncRedisDB) -> None:
    for name in ("a|b", "a", "b", "(a|b)", "*"):
        main.db.add_user_post(name, post_fields(hash(name) % 10_000, name))

    async def ids(name: str) -> list[str]:
        return [p.sender_username for p in await Post.find(Post.sender_username == name).aall()]

    async def scenario() -> None:
        for name in ("a|b", "a", "(a|b)", "*"):
            assert await ids(name) == [name]
        with pytest.raises(ValueError):
            await Post.find(Post.sender_username == "  ").aall()

    asyncio.run(scenario())


def test_first_async_use_on_a_fresh_server_creates_the_indexes(
    async_redis_db: AsyncRedisDB, raw: redis.Redis
) -> None:
    raw.flushall()
    models.binding.forget()

    async def scenario() -> int:
        return await Post.find(Post.sender_username == "alice").acount()

    assert asyncio.run(scenario()) == 0
    names = {n.decode() for n in raw.execute_command("FT._LIST")}
    assert {Post._meta.index_name, TwitterAccount._meta.index_name} <= names
    assert raw.get(keys.schema_hash_key(Post._meta.index_name)) is not None


def test_models_follow_a_db_they_are_bound_to(redis_settings: RedisSettings, async_redis_db: Any) -> None:
    own = AsyncRedisDB(redis_settings)
    models.bind(own)
    try:
        assert models.binding.connector() is own.connector

        async def scenario() -> list[str]:
            await own.add_user_post("carol", post_fields(5, "carol"))
            return [p.id for p in await Post.find(Post.accounts == "carol").aall()]

        assert asyncio.run(scenario()) == ["tw5"]
    finally:
        models.bind(None)


def test_async_client_is_per_loop(async_redis_db: AsyncRedisDB) -> None:
    clients: list[Any] = []

    async def grab() -> None:
        await async_redis_db.get("k")
        clients.append(async_redis_db.r)
        assert isinstance(async_redis_db.r, redis.asyncio.Redis)

    asyncio.run(grab())
    asyncio.run(grab())
    assert clients[0] is not clients[1]


# -- the plugin's fixture in an async test (anyio's pytest plugin; pytest-asyncio works the same) --


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_async_fixture_in_an_async_test(async_redis_db: AsyncRedisDB) -> None:
    await async_redis_db.add_user_post("alice", post_fields(1))
    assert [p.id for p in await async_redis_db.get_user_posts("alice")] == ["tw1"]
    assert [p.id for p in await Post.find(Post.accounts == "alice").aall()] == ["tw1"]


def test_in_flight_limit_bounds_the_connections_of_a_loop(
    redis_settings: RedisSettings, async_redis_db: Any, raw: redis.Redis
) -> None:
    """200 coroutines at once wait for one of ``max_in_flight`` places: no error, 3 connections."""
    settings = redis_settings.model_copy(update={"max_in_flight": 3})

    async def scenario() -> int:
        async with AsyncRedisDB(settings) as adb:
            await adb.get("warm")
            before = int(raw.info("clients")["connected_clients"])
            await asyncio.gather(*(adb.add_to_set("fans", f"u{i}") for i in range(200)))
            return int(raw.info("clients")["connected_clients"]) - before

    opened = asyncio.run(scenario())
    assert raw.scard("fans") == 200
    assert opened <= 3


def test_more_callers_than_connections_wait_for_one(
    redis_settings: RedisSettings, async_redis_db: Any, raw: redis.Redis
) -> None:
    settings = redis_settings.model_copy(update={"max_connections": 2, "max_in_flight": 50})

    async def scenario() -> None:
        async with AsyncRedisDB(settings) as adb:
            await asyncio.gather(*(adb.add_to_set("waiters", f"a{i}") for i in range(100)))

    asyncio.run(scenario())
    assert raw.scard("waiters") == 100
