"""Connection pools built from settings, with redis-py's Retry/backoff and a bounded startup wait.

One pool per process for each (settings, response mode): bytes for ``db.r``, text for the models.
Pools are created lazily, so importing never connects and forked or unpickled copies get their own.
"""

from __future__ import annotations

import hashlib
import logging
import os
import ssl
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import AuthenticationError, BusyLoadingError, ConnectionError, TimeoutError
from redis.retry import Retry

from .errors import CredentialsError, ServerUnavailableError, TLSVerificationError
from .settings import RedisSettings

log = logging.getLogger(__name__)

#: Errors after which a command is retried (the server was unreachable, restarting or loading).
RETRY_ON: tuple[type[Exception], ...] = (ConnectionError, TimeoutError, BusyLoadingError)

_lock = threading.Lock()
_pools: dict[tuple[int, str, str, bool], redis.ConnectionPool] = {}
#: Bumped by ``reset_pools()``: clients cached elsewhere (``models.binding``) are stale then.
pools_generation = 0


def make_retry(settings: RedisSettings, retries: int | None = None) -> Retry:
    backoff = ExponentialBackoff(cap=settings.retry_backoff_cap, base=settings.retry_backoff_base)
    return Retry(backoff, settings.retries if retries is None else retries, RETRY_ON)


def _pool_kwargs(settings: RedisSettings, decode: bool) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "decode_responses": decode,
        "socket_timeout": settings.socket_timeout,
        "socket_connect_timeout": settings.socket_connect_timeout,
        "health_check_interval": settings.health_check_interval,
        "retry": make_retry(settings),
        "retry_on_error": list(RETRY_ON),
    }
    if settings.max_connections:
        kwargs["max_connections"] = settings.max_connections
    if settings.username:
        kwargs["username"] = settings.username
    if settings.password is not None:
        kwargs["password"] = settings.password.get_secret_value()
    return kwargs


def _ssl_kwargs(settings: RedisSettings) -> dict[str, Any]:
    return {
        "ssl_ca_certs": settings.ssl_ca_certs,
        "ssl_certfile": settings.ssl_certfile,
        "ssl_keyfile": settings.ssl_keyfile,
        "ssl_cert_reqs": settings.ssl_cert_reqs,
    }


def build_pool(settings: RedisSettings, decode: bool) -> redis.ConnectionPool:
    """A new pool for ``settings`` (no connection is opened yet)."""
    kwargs = _pool_kwargs(settings, decode)
    if settings.url:
        if settings.url.startswith("rediss://"):
            kwargs.update(_ssl_kwargs(settings))
        return redis.ConnectionPool.from_url(settings.url, **kwargs)
    kwargs.update(host=settings.host, port=settings.port, db=settings.db)
    if settings.ssl:
        kwargs.update(_ssl_kwargs(settings))
        kwargs["connection_class"] = redis.SSLConnection
    return redis.ConnectionPool(**kwargs)


def get_pool(settings: RedisSettings, decode: bool = False) -> redis.ConnectionPool:
    """The process-wide pool for these settings and response mode."""
    key = (os.getpid(), settings.model_dump_json(), _secret_digest(settings), decode)
    with _lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = build_pool(settings, decode)
        return pool


def _secret_digest(settings: RedisSettings) -> str:
    """Tells apart settings that differ only by password (``model_dump_json`` masks both)."""
    secret = settings.password.get_secret_value() if settings.password is not None else ""
    text = f"{secret}\0{settings.url or ''}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def get_client(settings: RedisSettings, decode: bool = False) -> redis.Redis:
    """A client on the shared pool (cheap to create; the pool is what is shared)."""
    return redis.Redis(connection_pool=get_pool(settings, decode))


def reset_pools() -> None:
    """Disconnect and forget every pool of this process (tests, after a fork)."""
    global pools_generation
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
        pools_generation += 1
    for pool in pools:
        pool.disconnect()


def wait_until_ready(settings: RedisSettings, timeout: float) -> bool:
    """PING until the server answers (and has finished loading) or ``timeout`` passes.

    True when ready in time, False otherwise (never raises). Settings that cannot work
    (credentials refused, certificate rejected) give False at once and a logged reason.
    """
    try:
        ensure_ready(settings, timeout)
        return True
    except ServerUnavailableError:
        return False
    except (CredentialsError, TLSVerificationError) as exc:
        log.error("%s", exc)
        return False


#: Backoff between two attempts of :func:`ensure_ready`, and the shortest attempt.
_PAUSE_MIN, _PAUSE_MAX, _ATTEMPT_MIN = 0.02, 0.5, 0.1


def ensure_ready(settings: RedisSettings, timeout: float) -> None:
    """Return once the server answers PING; raise :class:`ServerUnavailableError` after ``timeout``.

    Attempts are paced by redis-py's ``Retry`` with exponential backoff; each attempt's socket
    timeouts are cut to the time left, so none outlives the deadline by more than
    ``_ATTEMPT_MIN``. The error says why the server was not ready (refused, timed out, still
    loading) and where, never with credentials. Settings that cannot work fail at once:
    :class:`CredentialsError` (credentials refused or missing), :class:`TLSVerificationError`
    (the server's certificate fails verification).
    """
    where = settings.describe()
    deadline = time.monotonic() + max(timeout, 0.0)

    def attempt() -> None:
        left = max(deadline - time.monotonic(), _ATTEMPT_MIN)
        one_shot = settings.model_copy(
            update={
                "retries": 0,
                "socket_timeout": min(settings.socket_timeout, left),
                "socket_connect_timeout": min(settings.socket_connect_timeout, left),
                "health_check_interval": 0,
            }
        )
        pool = build_pool(one_shot, decode=False)
        try:
            redis.Redis(connection_pool=pool).ping()
        finally:
            pool.disconnect()

    def give_up_at_deadline(error: Exception) -> None:
        if time.monotonic() >= deadline:
            raise ServerUnavailableError(
                f"Redis at {where} is not ready after {timeout:g}s (REDIS_STARTUP_WAIT): "
                f"{_reason(error)}"
            ) from None

    def worth_retrying(error: Exception) -> bool:
        return not isinstance(error, AuthenticationError) and not _certificate_rejected(error)

    retry = Retry(ExponentialBackoff(cap=_PAUSE_MAX, base=_PAUSE_MIN), -1, RETRY_ON)
    try:
        # types-redis (pulled in by redis-om) predates is_retryable; redis-py 6+ has it.
        retry.call_with_retry(  # type: ignore[call-arg]
            attempt, give_up_at_deadline, is_retryable=worth_retrying
        )
    except AuthenticationError as exc:
        what = "refused the credentials" if _has_credentials(settings) else "needs credentials"
        raise CredentialsError(
            f"Redis at {where} {what} (REDIS_USERNAME, REDIS_PASSWORD): {exc}"
        ) from None
    except RETRY_ON as exc:
        if _certificate_rejected(exc):
            raise TLSVerificationError(
                f"TLS to Redis at {where} failed: {_reason(exc)} (REDIS_SSL_CA_CERTS)"
            ) from None
        raise


def _has_credentials(settings: RedisSettings) -> bool:
    if settings.password is not None:
        return True
    return bool(settings.url and urlsplit(settings.url).password)


def _reason(exc: Exception) -> str:
    if isinstance(exc, BusyLoadingError):
        return "still loading its dataset into memory"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return str(exc) or type(exc).__name__


def _certificate_rejected(exc: BaseException) -> bool:
    """True when ``exc`` comes from a TLS certificate that failed verification."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
