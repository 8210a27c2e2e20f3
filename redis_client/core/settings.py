"""Connection settings, read from the environment (``REDIS_*``) or a ``.env`` file."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

from pydantic import Field, SecretStr, ValidationError, field_serializer, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .errors import SettingsError

ENV_PREFIX = "REDIS_"
URL_SCHEMES = ("redis", "rediss", "unix")
_MASK = "**********"


class RedisSettings(BaseSettings):
    """Where and how to connect. ``REDIS_URL`` wins over host, port and db when set."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True
    )

    host: str = "localhost"
    port: int = Field(6379, ge=1, le=65535)
    db: int = Field(0, ge=0)
    #: May hold credentials (``redis://user:password@host``): kept out of repr/str.
    url: str | None = Field(None, repr=False)
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
    #: Connections per pool (one pool per process and response mode, or per event loop); callers
    #: beyond it wait up to ``pool_timeout`` for one to be free instead of failing.
    max_connections: int = Field(100, ge=1)
    pool_timeout: float = Field(20.0, gt=0)
    #: Commands one event loop has in flight at once (the asyncio API); more wait their turn, so
    #: one turn of the loop stays short for the other tasks.
    max_in_flight: int = Field(32, ge=1)
    health_check_interval: int = Field(30, ge=0)
    #: Index the words of ``Post.text`` (``Post.text % "words"``). Off saves memory and write time.
    full_text_search: bool = True
    #: Sentinel: the sentinels' ``host:port`` list (``REDIS_SENTINELS=h1:26379,h2:26379``); when
    #: set, the master's address comes from them only (not from the URL, host or port).
    sentinels: Annotated[tuple[tuple[str, int], ...], NoDecode] = ()
    sentinel_master: str = Field("mymaster", min_length=1)
    sentinel_username: str | None = None
    sentinel_password: SecretStr | None = None
    #: Redis Cluster: the URL or host and port name any node; the others are discovered.
    cluster: bool = False
    #: Replicas every acknowledged write must have reached (``WAIT``); 0: no wait.
    wait_replicas: int = Field(0, ge=0)
    wait_timeout_ms: int = Field(1000, ge=1)

    @field_validator("sentinels", mode="before")
    @classmethod
    def _parse_sentinels(cls, value: Any) -> Any:
        if isinstance(value, str):
            entries = [e.strip() for e in value.split(",")] if value.strip() else []
            return tuple(_host_port(e) for e in entries)
        return value

    @model_validator(mode="after")
    def _one_topology(self) -> RedisSettings:
        if self.sentinels and self.cluster:
            raise ValueError(
                "REDIS_SENTINELS and REDIS_CLUSTER cannot be used together: a deployment is either "
                "a master watched by sentinels or a cluster"
            )
        return self

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        # The messages never quote the value: the URL may hold a password.
        parts = urlsplit(value)
        if parts.scheme not in URL_SCHEMES:
            raise ValueError(f"the scheme must be one of {', '.join(URL_SCHEMES)}")
        if parts.scheme == "unix":
            if not parts.path:
                raise ValueError("a unix URL needs the socket's path: unix:///path/to/redis.sock")
        elif not parts.hostname:
            raise ValueError(f"the URL has no host: expected {parts.scheme}://host:port/db")
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number in range
        except ValueError:
            raise ValueError("the port is not a number from 0 to 65535") from None
        # redis-py silently uses database 0 for a path or ?db= that is not a number.
        if parts.scheme != "unix" and parts.path.strip("/") and not parts.path.strip("/").isdecimal():
            raise ValueError("the database (the URL's path) is not a number: expected "
                             f"{parts.scheme}://host:port/0")
        for name, db in parse_qsl(parts.query, keep_blank_values=True):
            if name == "db" and not db.isdecimal():
                raise ValueError("the database (?db=) is not a number")
        return value

    @field_serializer("url")
    def _mask_url(self, value: str | None) -> str | None:
        return mask_url(value) if value else value

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, value
            if name == "db" and self.url:
                yield "url", mask_url(self.url)

    @property
    def database(self) -> int:
        """The database index in use (the URL's when a URL gives the address)."""
        if self.url and not self.sentinels:
            parts = urlsplit(self.url)
            path = parts.path.strip("/")
            if parts.scheme != "unix" and path.isdigit():
                return int(path)
            query = dict(parse_qsl(parts.query))
            return int(query["db"]) if query.get("db", "").isdigit() else 0
        return self.db

    def tls_kwargs(self) -> dict[str, Any]:
        """redis-py's TLS options from these settings."""
        return {
            "ssl_ca_certs": self.ssl_ca_certs,
            "ssl_certfile": self.ssl_certfile,
            "ssl_keyfile": self.ssl_keyfile,
            "ssl_cert_reqs": self.ssl_cert_reqs,
        }

    def describe(self) -> str:
        """Where this connects to, for messages: no password, no username."""
        if self.sentinels:
            where = ",".join(f"{h}:{p}" for h, p in self.sentinels)
            return f"master {self.sentinel_master!r} of the sentinels {where} (db {self.db})"
        if self.url:
            parts = urlsplit(self.url)
            if parts.scheme == "unix":
                return f"unix://{parts.path}"
            host = parts.hostname or "localhost"
            port = parts.port or 6379
            return f"{parts.scheme}://{host}:{port}{parts.path or ''}"
        scheme = "rediss" if self.ssl else "redis"
        return f"{scheme}://{self.host}:{self.port}/{self.db}"

    def is_configured(self) -> bool:
        """True when any connection setting was given explicitly (env, .env or argument)."""
        return bool(self.model_fields_set & {"host", "port", "url", "db", "sentinels", "cluster"})


def mask_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``**********``."""
    parts = urlsplit(url)
    if parts.password is not None:
        host = parts.netloc.rpartition("@")[2]
        parts = parts._replace(netloc=f"{parts.username or ''}:{_MASK}@{host}")
    if "password" in parts.query.lower():
        query = [
            (k, _MASK if k.lower() == "password" else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ]
        parts = parts._replace(query=urlencode(query, safe="*"))
    masked = parts.geturl()
    if url.startswith(f"{parts.scheme}://") and not masked.startswith(f"{parts.scheme}://"):
        masked = masked.replace(":", "://", 1)  # geturl() drops '//' before an empty host
    return masked


def _host_port(entry: str) -> tuple[str, int]:
    """``host:port`` (``[v6addr]:port`` for IPv6) as a pair; the port is required."""
    host, sep, port = entry.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"each entry must be host:port with a port from 1 to 65535, not {entry!r}")
    return host, int(port)


def load_settings(**overrides: Any) -> RedisSettings:
    """Read settings; a bad value raises :class:`SettingsError` naming the variable."""
    try:
        return RedisSettings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_input=False, include_url=False):
            message = err["msg"].removeprefix("Value error, ")
            if not err["loc"]:  # a rule over several variables names them itself
                problems.append(message)
                continue
            name = ENV_PREFIX + "_".join(str(p) for p in err["loc"][:1]).upper()
            problems.append(f"{name}: {message}")
        raise SettingsError("invalid Redis settings: " + "; ".join(problems)) from None
