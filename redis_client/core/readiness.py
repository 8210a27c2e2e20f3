"""The bounded startup wait: PING until the server answers (and has loaded its data), sync or asyncio.

Attempts are paced by redis-py's ``Retry`` (sync or asyncio) with exponential backoff; each
attempt's socket timeouts are cut to the time left, so none outlives the deadline by more than
``ATTEMPT_MIN``. The error says why the server was not ready (refused, timed out, still loading)
and where, never with credentials. Settings that cannot work fail at once:
:class:`CredentialsError` (credentials refused or missing), :class:`TLSVerificationError` (the
server's certificate fails verification).
"""

from __future__ import annotations

import logging
import ssl
import time
from urllib.parse import urlsplit

import redis
import redis.asyncio
import redis.asyncio.retry
import redis.retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import AuthenticationError, BusyLoadingError, TimeoutError

from .errors import CredentialsError, ServerUnavailableError, TLSVerificationError
from .pools import build_async_pool, build_pool
from .retry import RETRY_ON
from .settings import RedisSettings

log = logging.getLogger(__name__)

#: What ends a wait: refused credentials at once, the others once the deadline passed.
_FINAL: tuple[type[Exception], ...] = (AuthenticationError, *RETRY_ON)

#: Backoff between two attempts, and the shortest attempt.
PAUSE_MIN, PAUSE_MAX, ATTEMPT_MIN = 0.02, 0.5, 0.1


class _Wait:
    """What both APIs share: the deadline, each attempt's settings, and the errors raised."""

    def __init__(self, settings: RedisSettings, timeout: float) -> None:
        self.settings = settings
        self.timeout = timeout
        self.where = settings.describe()
        self.deadline = time.monotonic() + max(timeout, 0.0)

    def attempt_settings(self) -> RedisSettings:
        left = max(self.deadline - time.monotonic(), ATTEMPT_MIN)
        return self.settings.model_copy(
            update={
                "retries": 0,
                "socket_timeout": min(self.settings.socket_timeout, left),
                "socket_connect_timeout": min(self.settings.socket_connect_timeout, left),
                "health_check_interval": 0,
            }
        )

    def give_up_at_deadline(self, error: Exception) -> None:
        if time.monotonic() >= self.deadline:
            raise ServerUnavailableError(
                f"Redis at {self.where} is not ready after {self.timeout:g}s (REDIS_STARTUP_WAIT): "
                f"{_reason(error)}"
            ) from None

    @staticmethod
    def worth_retrying(error: Exception) -> bool:
        return not isinstance(error, AuthenticationError) and not _certificate_rejected(error)

    def final_error(self, exc: Exception) -> Exception:
        """The error to raise for an attempt that will not be retried."""
        if isinstance(exc, AuthenticationError):
            what = "refused the credentials" if _has_credentials(self.settings) else "needs credentials"
            return CredentialsError(
                f"Redis at {self.where} {what} (REDIS_USERNAME, REDIS_PASSWORD): {exc}"
            )
        if _certificate_rejected(exc):
            return TLSVerificationError(
                f"TLS to Redis at {self.where} failed: {_reason(exc)} (REDIS_SSL_CA_CERTS)"
            )
        return exc

    @staticmethod
    def backoff() -> ExponentialBackoff:
        return ExponentialBackoff(cap=PAUSE_MAX, base=PAUSE_MIN)


def ensure_ready(settings: RedisSettings, timeout: float) -> None:
    """Return once the server answers PING; raise :class:`ServerUnavailableError` after ``timeout``."""
    wait = _Wait(settings, timeout)

    def attempt() -> None:
        pool = build_pool(wait.attempt_settings(), decode=False)
        try:
            redis.Redis(connection_pool=pool).ping()
        finally:
            pool.disconnect()

    retry = redis.retry.Retry(wait.backoff(), -1, RETRY_ON)
    try:
        retry.call_with_retry(  # type: ignore[call-arg]  # types-redis predates is_retryable
            attempt, wait.give_up_at_deadline, is_retryable=wait.worth_retrying
        )
    except _FINAL as exc:
        raise wait.final_error(exc) from None


async def aensure_ready(settings: RedisSettings, timeout: float) -> None:
    """:func:`ensure_ready` for asyncio: the loop keeps running while it waits."""
    wait = _Wait(settings, timeout)

    async def attempt() -> None:
        pool = build_async_pool(wait.attempt_settings(), decode=False)
        try:
            await redis.asyncio.Redis(connection_pool=pool).ping()
        finally:
            await pool.disconnect()

    async def give_up_at_deadline(error: Exception) -> None:
        wait.give_up_at_deadline(error)

    retry = redis.asyncio.retry.Retry(wait.backoff(), -1, RETRY_ON)
    try:
        await retry.call_with_retry(  # type: ignore[call-arg]
            attempt, give_up_at_deadline, is_retryable=wait.worth_retrying
        )
    except _FINAL as exc:
        raise wait.final_error(exc) from None


#: What a readiness check raises when the server cannot be used now.
_NOT_READY: tuple[type[Exception], ...] = (ServerUnavailableError, CredentialsError, TLSVerificationError)


def _not_ready(exc: Exception) -> bool:
    if not isinstance(exc, ServerUnavailableError):
        log.error("%s", exc)  # settings that cannot work: they never heal by waiting
    return False


def is_ready(settings: RedisSettings, timeout: float) -> bool:
    """True when the server is ready within ``timeout`` seconds, else False (never raises)."""
    try:
        ensure_ready(settings, timeout)
    except _NOT_READY as exc:
        return _not_ready(exc)
    return True


async def ais_ready(settings: RedisSettings, timeout: float) -> bool:
    """:func:`is_ready` for asyncio."""
    try:
        await aensure_ready(settings, timeout)
    except _NOT_READY as exc:
        return _not_ready(exc)
    return True


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
