"""Connection settings, read from the environment (``REDIS_*``) or a ``.env`` file."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import SettingsError

ENV_PREFIX = "REDIS_"


class RedisSettings(BaseSettings):
    """Where and how to connect. ``REDIS_URL`` wins over host, port and db when set."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True
    )

    host: str = "localhost"
    port: int = Field(6379, ge=1, le=65535)
    db: int = Field(0, ge=0)
    url: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    ssl: bool = False
    ssl_ca_certs: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_cert_reqs: Literal["required", "optional", "none"] = "required"
    socket_timeout: float = Field(5.0, gt=0)
    socket_connect_timeout: float = Field(2.0, gt=0)
    #: Seconds the first command waits for a server that is down or still loading.
    startup_wait: float = Field(10.0, ge=0)
    #: Retries of one command after a connection error (exponential backoff).
    retries: int = Field(3, ge=0)
    retry_backoff_base: float = Field(0.05, gt=0)
    retry_backoff_cap: float = Field(1.0, gt=0)
    max_connections: int | None = Field(None, ge=1)
    health_check_interval: int = Field(30, ge=0)

    def describe(self) -> str:
        """Where this connects to, for messages: no password, no username."""
        if self.url:
            from urllib.parse import urlsplit

            parts = urlsplit(self.url)
            host = parts.hostname or "localhost"
            port = parts.port or 6379
            return f"{parts.scheme}://{host}:{port}{parts.path or ''}"
        scheme = "rediss" if self.ssl else "redis"
        return f"{scheme}://{self.host}:{self.port}/{self.db}"

    def is_configured(self) -> bool:
        """True when any connection setting was given explicitly (env, .env or argument)."""
        return bool(self.model_fields_set & {"host", "port", "url", "db"})


def load_settings(**overrides: Any) -> RedisSettings:
    """Read settings; a bad value raises :class:`SettingsError` naming the variable."""
    try:
        return RedisSettings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_input=False, include_url=False):
            name = ENV_PREFIX + "_".join(str(p) for p in err["loc"]).upper()
            problems.append(f"{name}: {err['msg']}")
        raise SettingsError("invalid Redis settings: " + "; ".join(problems)) from None
