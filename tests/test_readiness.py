"""The bounded startup wait (``core.readiness``), sync and asyncio, on real servers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from redis_client.core import readiness
from redis_client.core.errors import CredentialsError, ServerUnavailableError
from redis_client.core.settings import RedisSettings, load_settings
from redis_client.embedded import EmbeddedRedis, free_port

SECRET = "readiness-secret-pw"


@pytest.fixture(scope="module")
def locked_server() -> Iterator[EmbeddedRedis]:
    """A plain server (no modules) that wants a password."""
    server = EmbeddedRedis(modules=False, extra_args=["--requirepass", SECRET]).start()
    yield server
    server.stop()


def test_a_running_server_is_ready(redis_settings: RedisSettings) -> None:
    readiness.ensure_ready(redis_settings, 1)
    assert readiness.is_ready(redis_settings, 1) is True
    assert asyncio.run(readiness.ais_ready(redis_settings, 1)) is True


def test_nothing_listening_is_not_ready_and_the_error_says_where_and_which_setting() -> None:
    port = free_port()
    settings = load_settings(url=f"redis://:{SECRET}@127.0.0.1:{port}/0")
    assert readiness.is_ready(settings, 0.2) is False
    assert asyncio.run(readiness.ais_ready(settings, 0.2)) is False
    for wait in (lambda: readiness.ensure_ready(settings, 0.2),
                 lambda: asyncio.run(readiness.aensure_ready(settings, 0.2))):
        with pytest.raises(ServerUnavailableError) as info:
            wait()
        message = str(info.value)
        assert f"127.0.0.1:{port}" in message and "REDIS_STARTUP_WAIT" in message
        assert SECRET not in message


def test_refused_credentials_are_final_and_never_quoted(locked_server: EmbeddedRedis) -> None:
    wrong = load_settings(host="127.0.0.1", port=locked_server.port, password="not-" + SECRET)
    missing = load_settings(host="127.0.0.1", port=locked_server.port)
    for settings, expected in ((wrong, "refused the credentials"), (missing, "needs credentials")):
        with pytest.raises(CredentialsError, match=expected) as info:
            readiness.ensure_ready(settings, 30)  # raised on the first attempt, not after 30 s
        assert "not-" + SECRET not in str(info.value) and SECRET not in str(info.value)
        with pytest.raises(CredentialsError):
            asyncio.run(readiness.aensure_ready(settings, 30))
        assert readiness.is_ready(settings, 30) is False
    right = load_settings(host="127.0.0.1", port=locked_server.port, password=SECRET)
    assert readiness.is_ready(right, 1) is True
