"""Every error redis-client raises on purpose, in one hierarchy (redis-py's ``exceptions.py`` style).

Each is a :class:`RedisClientError`; most also derive from the builtin or redis-py error that
callers caught before the hierarchy existed (``except ValueError`` still catches a bad post).
Messages never hold stored values or secrets.
"""

from __future__ import annotations

import redis

__all__ = [
    "RedisClientError",
    "SettingsError",
    "InvalidValueError",
    "StoredValueError",
    "InvalidPostError",
    "InvalidUsernameError",
    "InvalidArgumentError",
    "InvalidArgumentTypeError",
    "InvalidAccountDataError",
    "CorruptRecordError",
    "QueryValueError",
    "ServerUnavailableError",
    "CredentialsError",
    "TLSVerificationError",
    "ModuleMissingError",
    "WriteConflictError",
    "EmbeddedServerError",
    "MigrationError",
    "MigrationRefusedError",
    "UnknownMigrationError",
    "MigrationDefinitionError",
    "MigrationFailedError",
    "FollowerError",
    "FollowerStoppedError",
    "server_message",
]


class RedisClientError(Exception):
    """Base class for every error this package raises on purpose."""


class SettingsError(RedisClientError, ValueError):
    """A setting (environment variable or `.env` entry) has an invalid value."""


class InvalidValueError(RedisClientError, TypeError):
    """A value cannot be stored (not JSON-encodable, NaN, ...). Nothing was written."""


class StoredValueError(RedisClientError, ValueError):
    """A stored value cannot be decoded as JSON, or has a shape the call cannot use."""


class InvalidPostError(RedisClientError, ValueError):
    """A post failed validation. Nothing was written."""


class InvalidUsernameError(RedisClientError, ValueError):
    """A username is empty or not a string."""


class InvalidArgumentError(RedisClientError, ValueError):
    """An argument other than a post or username is unusable (action type, timestamp, key)."""


class InvalidArgumentTypeError(RedisClientError, TypeError):
    """An argument has the wrong type (a timestamp that is not a number, ...)."""


class InvalidAccountDataError(RedisClientError, ValueError):
    """``twitter_data`` (or an action time) cannot be read as account data."""


class CorruptRecordError(RedisClientError, ValueError):
    """A model record stored in Redis fails validation (written by something else)."""


class QueryValueError(RedisClientError, ValueError):
    """A model query was given a value no exact query can be made for."""


class ServerUnavailableError(RedisClientError, redis.ConnectionError):
    """The server did not become ready in time (down, unreachable or still loading its data)."""


class ReplicationTimeoutError(RedisClientError, redis.TimeoutError):
    """A write reached the master but not ``REDIS_WAIT_REPLICAS`` replicas within
    ``REDIS_WAIT_TIMEOUT_MS``: a failover may lose it. Repeating the call is safe."""


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


class MigrationError(RedisClientError):
    """A migration command failed; what was written stays and a new run resumes."""


class MigrationRefusedError(MigrationError):
    """A migration cannot run against this server, or the request is not valid."""


class UnknownMigrationError(MigrationRefusedError, LookupError):
    """No migration has this ID."""


class MigrationDefinitionError(MigrationRefusedError, ValueError):
    """A migration file is malformed: a missing name or function, a duplicate ID, an unknown or
    circular dependency. Nothing was run."""


class MigrationFailedError(MigrationError):
    """A migration command stopped part-way (the server went away, a command failed); what was
    written stays, and ``migrate run`` resumes from the checkpoints."""


class FollowerError(RedisClientError):
    """The follower (``redis-client sync``) cannot run against this server."""


class FollowerStoppedError(FollowerError, RuntimeError):
    """A ``Follower`` was used after it was stopped; make a new one to follow or reconcile again."""


def server_message(error: Exception) -> str:
    """The server's own error message: redis-py prefixes pipeline errors with the command and its
    arguments (post texts, tokens), which must not reach logs or reports."""
    return str(error).rsplit("caused error: ", 1)[-1]
