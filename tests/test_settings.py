"""Settings: defaults, environment and ``.env``, REDIS_URL precedence, clear errors, no secrets shown.

No server is needed: pools are built but never connect, except where a RedisDB's first command
must fail on a bad setting before any connection is tried.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pydantic import SecretStr

from redis_client.core import pools
from redis_client.core.errors import RedisClientError, SettingsError
from redis_client.core.settings import RedisSettings, load_settings
from redis_client.db import RedisDB

PASSWORD = "pw-Zq81-never-shown"
URL_PASSWORD = "url-pw-Kd03-never-shown"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No REDIS_* variable and no .env file unless a test writes one (cwd = a fresh dir)."""
    for name in list(os.environ):
        if name.upper().startswith("REDIS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    pools.reset_pools()


def pool_kwargs(settings: RedisSettings) -> dict[str, object]:
    pool = pools.build_pool(settings, decode=False)
    return dict(pool.connection_kwargs, connection_class=pool.connection_class)


def test_defaults() -> None:
    s = load_settings()
    assert (s.host, s.port, s.db, s.url) == ("localhost", 6379, 0, None)
    assert s.username is None and s.password is None
    assert s.ssl is False and s.ssl_cert_reqs == "required"
    assert (s.socket_timeout, s.socket_connect_timeout, s.startup_wait) == (5.0, 2.0, 10.0)
    assert (s.retries, s.retry_backoff_base, s.retry_backoff_cap) == (3, 0.05, 1.0)
    assert s.describe() == "redis://localhost:6379/0"
    assert not s.is_configured()
    kwargs = pool_kwargs(s)
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("localhost", 6379, 0)
    assert kwargs["connection_class"] is redis.Connection
    assert "password" not in kwargs


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_HOST", "cache.internal")
    monkeypatch.setenv("REDIS_PORT", "6380")
    monkeypatch.setenv("REDIS_DB", "4")
    monkeypatch.setenv("REDIS_USERNAME", "bot")
    monkeypatch.setenv("REDIS_PASSWORD", PASSWORD)
    monkeypatch.setenv("REDIS_STARTUP_WAIT", "2.5")
    monkeypatch.setenv("REDIS_RETRIES", "7")
    s = load_settings()
    assert s.is_configured()
    assert s.describe() == "redis://cache.internal:6380/4"
    assert s.startup_wait == 2.5 and s.retries == 7
    kwargs = pool_kwargs(s)
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("cache.internal", 6380, 4)
    assert (kwargs["username"], kwargs["password"]) == ("bot", PASSWORD)
    assert kwargs["retry"].get_retries() == 7  # type: ignore[attr-defined]


def test_redis_url_wins_over_host_port_db(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_HOST", "ignored-host")
    monkeypatch.setenv("REDIS_PORT", "1111")
    monkeypatch.setenv("REDIS_DB", "9")
    monkeypatch.setenv("REDIS_URL", f"redis://bot:{URL_PASSWORD}@url-host:7000/3")
    s = load_settings()
    assert s.describe() == "redis://url-host:7000/3"
    kwargs = pool_kwargs(s)
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("url-host", 7000, 3)
    assert (kwargs["username"], kwargs["password"]) == ("bot", URL_PASSWORD)


def test_url_credentials_win_over_separate_ones() -> None:
    s = load_settings(
        url=f"redis://bot:{URL_PASSWORD}@h:7000/0", username="other", password=PASSWORD
    )
    kwargs = pool_kwargs(s)
    assert (kwargs["username"], kwargs["password"]) == ("bot", URL_PASSWORD)


def test_empty_redis_url_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "")
    monkeypatch.setenv("REDIS_PORT", "6390")
    s = load_settings()
    assert s.url is None
    assert pool_kwargs(s)["port"] == 6390


def test_tls_settings_reach_the_connection(tmp_path: Path) -> None:
    s = load_settings(
        ssl=True,
        ssl_ca_certs=str(tmp_path / "ca.pem"),
        ssl_certfile=str(tmp_path / "c.pem"),
        ssl_keyfile=str(tmp_path / "c.key"),
    )
    assert s.describe() == "rediss://localhost:6379/0"
    kwargs = pool_kwargs(s)
    assert kwargs["connection_class"] is redis.SSLConnection
    assert kwargs["ssl_ca_certs"] == str(tmp_path / "ca.pem")
    assert kwargs["ssl_certfile"] == str(tmp_path / "c.pem")
    assert kwargs["ssl_cert_reqs"] == "required"
    via_url = load_settings(url="rediss://h:6390/0", ssl_ca_certs=str(tmp_path / "ca.pem"))
    kwargs = pool_kwargs(via_url)
    assert kwargs["connection_class"] is redis.SSLConnection
    assert kwargs["ssl_ca_certs"] == str(tmp_path / "ca.pem")


def test_dotenv_file_is_read_and_environment_overrides_it(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_env / ".env").write_text(
        f"REDIS_HOST=from-dotenv\nREDIS_PORT=7001\nREDIS_PASSWORD={PASSWORD}\nOTHER_VAR=x\n"
    )
    s = load_settings()
    assert (s.host, s.port) == ("from-dotenv", 7001)
    assert s.password is not None and s.password.get_secret_value() == PASSWORD
    assert s.is_configured()
    monkeypatch.setenv("REDIS_PORT", "7002")
    assert load_settings().port == 7002


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("REDIS_PORT", "abc"),
        ("REDIS_PORT", "0"),
        ("REDIS_PORT", "70000"),
        ("REDIS_DB", "-1"),
        ("REDIS_DB", "one"),
        ("REDIS_SSL", "maybe"),
        ("REDIS_SSL_CERT_REQS", "sometimes"),
        ("REDIS_SOCKET_TIMEOUT", "0"),
        ("REDIS_STARTUP_WAIT", "-1"),
        ("REDIS_RETRIES", "-2"),
        ("REDIS_MAX_CONNECTIONS", "0"),
        ("REDIS_URL", "http://bot:secret-in-url@h:1/0"),
        ("REDIS_URL", "localhost:6379"),
        ("REDIS_URL", "redis://bot:secret-in-url@h:port/0"),
        # Shapes redis-py would accept silently or fail on deep inside (a user's typos):
        ("REDIS_URL", "redis:/127.0.0.1:6390"),
        ("REDIS_URL", "redis:127.0.0.1:6390"),
        ("REDIS_URL", "redis://:secret-in-url@/0"),
        ("REDIS_URL", "redis://bot:secret-in-url@h:6379/x"),
        ("REDIS_URL", "redis://bot:secret-in-url@h:6379/0/1"),
        ("REDIS_URL", "redis://h:6379/0?db=first"),
        ("REDIS_URL", "unix://?db=0"),
    ],
)
def test_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert variable in message
    if len(value) > 3:
        assert value not in message, "the bad value itself is not echoed (it may be a secret)"
    assert isinstance(info.value, ValueError) and isinstance(info.value, RedisClientError)


@pytest.mark.parametrize(
    ("url", "database"),
    [("redis://h:6379", 0), ("redis://h:6379/", 0), ("redis://h/3", 3), ("rediss://h:6380/15", 15),
     ("redis://h:6379?db=2", 2)],
)
def test_good_url_shapes_are_kept(url: str, database: int) -> None:
    from redis_client.core.connector import Connector

    assert Connector(load_settings(url=url)).database == database


def test_bad_value_in_dotenv_names_the_variable(clean_env: Path) -> None:
    (clean_env / ".env").write_text("REDIS_PORT=abc\n")
    with pytest.raises(SettingsError, match="REDIS_PORT"):
        load_settings()


def test_every_bad_variable_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_PORT", "abc")
    monkeypatch.setenv("REDIS_DB", "-1")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "REDIS_PORT" in str(info.value) and "REDIS_DB" in str(info.value)


def test_bad_setting_fails_on_first_use_not_at_construction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_PORT", "abc")
    db = RedisDB()  # like `from redis_client.main import db`: never raises
    assert "environment" in repr(db)
    with pytest.raises(SettingsError, match="REDIS_PORT"):
        db.get("anything")


def test_password_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_PASSWORD", PASSWORD)
    from_env = load_settings()
    with_url = load_settings(url=f"redis://bot:{URL_PASSWORD}@h:7000/0", password=PASSWORD)
    for s in (from_env, with_url):
        shown = [
            repr(s),
            str(s),
            s.describe(),
            s.model_dump_json(),
            str(s.model_dump()),
            repr(RedisDB(s)),
            repr(pools.get_pool(s)),
            repr(pools.get_client(s)),
        ]
        for text in shown:
            assert PASSWORD not in text
            assert URL_PASSWORD not in text
    assert "url='redis://bot:**********@h:7000/0'" in repr(with_url)  # where it points is shown


def test_url_passwords_are_masked_also_in_query_strings() -> None:
    s = load_settings(url=f"unix:///run/redis.sock?db=2&password={URL_PASSWORD}")
    assert URL_PASSWORD not in repr(s) and URL_PASSWORD not in s.model_dump_json()
    assert s.describe() == "unix:///run/redis.sock"


def test_settings_that_differ_only_by_password_get_different_pools() -> None:
    a = load_settings(port=7000, password="first-password")
    b = load_settings(port=7000, password="second-password")
    assert a.model_dump_json() == b.model_dump_json()  # the password is masked there
    assert pools.get_pool(a) is not pools.get_pool(b)
    assert pools.get_pool(a).connection_kwargs["password"] == "first-password"
    assert pools.get_pool(b).connection_kwargs["password"] == "second-password"
    assert pools.get_pool(a) is pools.get_pool(a.model_copy())
    c = load_settings(url="redis://:first-password@h:7000/0")
    d = load_settings(url="redis://:second-password@h:7000/0")
    assert pools.get_pool(c) is not pools.get_pool(d)


def test_settings_are_frozen_and_secret_typed() -> None:
    s = load_settings(password=PASSWORD)
    assert isinstance(s.password, SecretStr)
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        s.port = 1  # type: ignore[misc]
