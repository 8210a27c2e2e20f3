"""``Connector``: lazy settings, clients per process and per event loop, scripts, pickling."""

from __future__ import annotations

import asyncio
import os
import pickle

import pytest
import redis

from redis_client.core import scripts
from redis_client.core.capabilities import Capabilities
from redis_client.core.connector import Connector
from redis_client.core.errors import SettingsError
from redis_client.core.settings import RedisSettings, load_settings


def test_nothing_is_read_or_opened_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_PORT", "not a port")
    connector = Connector()  # the bad setting is only read on first use
    assert "environment" in repr(connector)
    with pytest.raises(SettingsError):
        connector.client()


def test_one_sync_client_per_response_mode(redis_db: object, redis_settings: RedisSettings) -> None:
    connector = Connector(redis_settings)
    assert connector.client() is connector.client()
    assert connector.client(True) is not connector.client()
    connector.client().set("k", "v")
    assert connector.client().get("k") == b"v" and connector.client(True).get("k") == "v"


def test_the_database_comes_from_the_url_or_the_db_setting() -> None:
    assert Connector(load_settings(url="redis://127.0.0.1:1/4")).database == 4
    assert Connector(load_settings(host="127.0.0.1", db=2)).database == 2


def test_registered_scripts_run_on_its_clients(redis_db: object, redis_settings: RedisSettings) -> None:
    connector = Connector(redis_settings)
    script = connector.script(scripts.SAVE_LINK)
    assert script is connector.script(scripts.SAVE_LINK) and script.sha == scripts.SAVE_LINK.sha
    assert script(keys=["created_tweet:f", "token"], args=["link", 60]) == 1

    async def run_async() -> int:
        found = connector.async_script(scripts.SAVE_LINK)
        try:
            return int(await found(keys=["created_tweet:f", "token2"], args=["link", 60]))
        finally:
            await connector.aclose()

    assert asyncio.run(run_async()) == 2


def test_each_event_loop_has_its_own_clients(redis_db: object, redis_settings: RedisSettings) -> None:
    connector = Connector(redis_settings)

    async def client_of_this_loop() -> object:
        client = await connector.async_client()
        assert client is await connector.async_client()
        await client.set("k", "1")
        await connector.aclose()
        return client

    first = asyncio.run(client_of_this_loop())
    second = asyncio.run(client_of_this_loop())  # a new loop: new clients
    assert first is not second


def test_in_flight_bounds_the_operations_of_one_loop(redis_settings: RedisSettings) -> None:
    connector = Connector(redis_settings.model_copy(update={"max_in_flight": 2}))

    async def peak() -> int:
        running, highest = 0, 0

        async def one() -> None:
            nonlocal running, highest
            async with connector.in_flight():
                running += 1
                highest = max(highest, running)
                await asyncio.sleep(0.01)
                running -= 1

        await asyncio.gather(*(one() for _ in range(6)))
        return highest

    assert asyncio.run(peak()) == 2


def test_what_the_server_can_do_is_remembered_per_process(redis_settings: RedisSettings) -> None:
    connector = Connector(redis_settings)
    connector.remember(Capabilities(json=True, search=True))
    connector.indexes_ready = True
    connector.forget_indexes()
    assert connector.capabilities is not None and not connector.indexes_ready


def test_reconfigure_starts_over_with_other_settings(redis_db: object, redis_settings: RedisSettings) -> None:
    connector = Connector(load_settings(host="127.0.0.1", port=1))
    connector.remember(Capabilities(json=False, search=False))
    connector.reconfigure(redis_settings)
    assert connector.capabilities is None and connector.settings is redis_settings
    assert connector.client().ping() is True


def test_a_copy_is_made_from_the_settings_alone(redis_db: object, redis_settings: RedisSettings) -> None:
    connector = Connector(redis_settings)
    connector.client().ping()
    copy = pickle.loads(pickle.dumps(connector))
    assert copy.settings == redis_settings and copy.capabilities is None
    assert copy.client() is not connector.client() and copy.client().ping() is True


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_opens_its_own_connections(redis_db: object, redis_settings: RedisSettings) -> None:
    connector = Connector(redis_settings)
    parent = connector.client()
    parent.set("k", "parent")
    pid = os.fork()
    if pid == 0:  # the child: its first command must not use the parent's sockets
        code = 1
        try:
            child = connector.client()
            code = 0 if child is not parent and child.get("k") == b"parent" else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert parent.get("k") == b"parent"  # the parent's connection still works


def test_the_description_never_holds_the_password() -> None:
    connector = Connector(load_settings(url="redis://bot:s3cret@127.0.0.1:1/0"))
    assert "s3cret" not in repr(connector) and "s3cret" not in connector.describe()
    with pytest.raises(redis.ConnectionError) as info:  # the first client waits, then says where
        Connector(load_settings(url="redis://bot:s3cret@127.0.0.1:1/0", startup_wait=0)).client()
    assert "127.0.0.1:1" in str(info.value) and "s3cret" not in str(info.value)
