"""Exceptions raised by redis-client. Messages never contain stored values or secrets."""

from __future__ import annotations

import redis


class RedisClientError(Exception):
    """Base class for every error this package raises on purpose."""


class SettingsError(RedisClientError, ValueError):
    """A setting (environment variable or `.env` entry) has an invalid value."""


class InvalidValueError(RedisClientError, TypeError):
    """A value cannot be stored (not JSON-encodable, NaN, ...). Nothing was written."""


class StoredValueError(RedisClientError, ValueError):
    """A stored value cannot be decoded as JSON."""


class InvalidPostError(RedisClientError, ValueError):
    """A post failed validation. Nothing was written."""


class InvalidUsernameError(RedisClientError, ValueError):
    """A username is empty or not a string."""


class ServerUnavailableError(RedisClientError, redis.ConnectionError):
    """The server did not become ready in time (down, unreachable or still loading its data)."""


class CredentialsError(RedisClientError, redis.AuthenticationError):
    """The server rejected the username/password, or needs them and none were given."""


class TLSVerificationError(RedisClientError, redis.ConnectionError):
    """The server's TLS certificate failed verification against the configured CA."""


class ModuleMissingError(RedisClientError):
    """The server lacks a module (search or JSON) that model operations need."""


class WriteConflictError(RedisClientError):
    """A key exists with a type the operation cannot write to. Nothing was written."""


class EmbeddedServerError(RedisClientError):
    """The embedded Redis could not be started (binaries missing, port taken, ...)."""


class MigrationRefusedError(RedisClientError):
    """A migration cannot run against this server."""
