"""The legacy key layout, byte for byte, and the model-record namespace: the only place keys are built."""

from __future__ import annotations

import re

from . import slots
from .errors import InvalidArgumentError, InvalidUsernameError

POSTED_TWEETS = "posted_tweets"
TWITTER_DATA = "twitter_data"
CREATED_TWEET = "created_tweet"
SEND_PARTNERSHIP = "send_partnership"
GORILLA_MARKETING_ANSWERED = "gorilla_marketing_answered"
USER_LIKES = "user_likes"
FUNCTION_VARIABLES = "function_variables"

#: Action types the original tool knew; ``{action_type}:{username}`` holds a JSON number.
ACTION_TYPES: tuple[str, ...] = (
    "last_create_post_time",
    "last_gorilla_marketing_time",
    "last_likes_time",
    "last_comment_agix_time",
    "last_answer_my_comment_time",
    "last_answer_comment_time",
)

#: Per-account prefixes besides the action types (``{prefix}:{username}``).
ACCOUNT_PREFIXES: tuple[str, ...] = (
    POSTED_TWEETS,
    TWITTER_DATA,
    SEND_PARTNERSHIP,
    GORILLA_MARKETING_ANSWERED,
    USER_LIKES,
)

#: Reserved namespace of model records, indexes and migration state. No legacy key starts with it.
MODEL_NAMESPACE = "redis_client_om"
POST_PREFIX = "post"
ACCOUNT_PREFIX = "account"
#: Never written: ``JSON.TYPE`` of it tells whether the server has the JSON module.
PROBE_KEY = f"{MODEL_NAMESPACE}:probe"

_GLOB_SPECIAL = re.compile(r"([\\*?\[\]])")


def check_username(username: object) -> str:
    """Return ``username`` if usable in a key; raise a clear error otherwise."""
    if not isinstance(username, str):
        raise InvalidUsernameError(f"username must be a str, not {type(username).__name__}")
    if not username:
        raise InvalidUsernameError("username must not be empty")
    return username


def escape_glob(text: str) -> str:
    """Escape ``text`` so that a SCAN/KEYS pattern matches it literally."""
    return _GLOB_SPECIAL.sub(r"\\\1", text)


def posted_tweets(username: str) -> str:
    return f"{POSTED_TWEETS}:{check_username(username)}"


def twitter_data(username: str) -> str:
    return f"{TWITTER_DATA}:{check_username(username)}"


def action_time(username: str, action_type: str) -> str:
    if not isinstance(action_type, str) or not action_type or ":" in action_type:
        raise InvalidArgumentError("action_type must be a non-empty str without ':'")
    if action_type == MODEL_NAMESPACE:
        raise InvalidArgumentError(f"action_type {MODEL_NAMESPACE!r} is reserved for model records")
    return f"{action_type}:{check_username(username)}"


def created_tweet(function_name: str) -> str:
    return f"{CREATED_TWEET}:{function_name}"


def call_token(token: str, beside: str) -> str:
    """Marks one call of a non-idempotent write to the key ``beside`` as done, so its retries do
    not repeat it; in ``beside``'s hash slot (a cluster runs a script over one slot only)."""
    return slots.beside(beside, f"{MODEL_NAMESPACE}:call:", token)


def posting_slot(username: str) -> str:
    """The account's posting-slot reservation (``ops.pacing``): in the slot of its
    ``posted_tweets`` key, which the reservation script reads, on a cluster and everywhere else."""
    return slots.beside(posted_tweets(username), f"{MODEL_NAMESPACE}:posting:", username)


def send_partnership(username: str) -> str:
    return f"{SEND_PARTNERSHIP}:{check_username(username)}"


def gorilla_marketing_answered(username: str) -> str:
    return f"{GORILLA_MARKETING_ANSWERED}:{check_username(username)}"


def user_likes(username: str) -> str:
    return f"{USER_LIKES}:{check_username(username)}"


def prefix_pattern(prefix: str) -> str:
    """SCAN pattern for every key ``{prefix}:{anything}``."""
    return f"{escape_glob(prefix)}:*"


def username_from_key(key: str, prefix: str) -> str:
    """The full username of ``{prefix}:{username}`` (usernames may hold ':')."""
    head = prefix + ":"
    if not key.startswith(head):
        raise InvalidArgumentError(f"key does not start with {head!r}")
    return key[len(head) :]


def username_of(key: bytes | str, prefix: str) -> str | None:
    """The checked username of a raw ``{prefix}:{username}`` key name; None when the name is
    not UTF-8, lacks the prefix or holds no usable username."""
    try:
        name = key.decode("utf-8") if isinstance(key, bytes) else key
        return check_username(username_from_key(name, prefix))
    except (UnicodeDecodeError, ValueError):
        return None


def legacy_account_keys(username: str, action_types: tuple[str, ...] = ACTION_TYPES) -> list[str]:
    """Every legacy key that belongs to one account."""
    keys = [f"{p}:{check_username(username)}" for p in ACCOUNT_PREFIXES]
    keys += [action_time(username, a) for a in action_types]
    return keys


def model_key(model_prefix: str, pk: str) -> str:
    """Key of a model record, as redis-om builds it."""
    return f"{MODEL_NAMESPACE}:{model_prefix}:{pk}"


def model_index(model_prefix: str) -> str:
    return f"{MODEL_NAMESPACE}:{model_prefix}:index"


def shard_index(index: str, tag: str) -> str:
    """On a cluster: the name of ``index`` on the primary that serves the slot of ``tag``."""
    return f"{index}{{{tag}}}"


def index_tag(name: str, index: str) -> str | None:
    """The tag of ``shard_index(index, tag)``; None for any other name."""
    if name.startswith(index + "{") and name.endswith("}") and len(name) > len(index) + 2:
        return name[len(index) + 1 : -1]
    return None


def migration_state(name: str) -> str:
    """Key of our own migration bookkeeping (checkpoints, reports). ``name`` starts with the
    migration's id, which is the key's hash tag: one migration's state lies in one slot, so a
    checkpoint is committed in one transaction on a cluster too."""
    migration_id, sep, rest = name.partition(":")
    return f"{MODEL_NAMESPACE}:migration:{{{migration_id}}}{sep}{rest}"


def schema_hash_key(index_name: str) -> str:
    """Where the hash of an index's schema is kept (outside the records' prefix)."""
    return f"{MODEL_NAMESPACE}:schema:{index_name}"


def schema_lock_key(index_name: str) -> str:
    """The lock held while an index is checked and (re)built."""
    return f"{MODEL_NAMESPACE}:schema-lock:{index_name}"


# --- Migration bookkeeping and key classification (used by ``redis_client.migrate``) ---

#: Set where redis-om's DataMigrator records applied data migrations (redis-om's name, not ours).
APPLIED_MIGRATIONS = "redis_om:applied_migrations"


def migration_checkpoint(migration_id: str, partition: str = "scan") -> str:
    """Hash: where a migration's run over one partition of the keyspace stands."""
    return migration_state(f"{migration_id}:checkpoint:{partition}")


def migration_done_keys(migration_id: str, partition: str = "scan") -> str:
    """Set: source keys of the current SCAN page already migrated (one set per partition)."""
    return migration_state(f"{migration_id}:done:{partition}")


def migration_report(migration_id: str) -> str:
    """Hash: the migration's bad-data report (entry id -> JSON of key, reason, preview)."""
    return migration_state(f"{migration_id}:report")


def migration_state_pattern(migration_id: str) -> str:
    """SCAN pattern for every bookkeeping key of one migration (and of no other)."""
    return escape_glob(migration_state(migration_id)) + ":*"


def migration_checkpoint_pattern(migration_id: str) -> str:
    """SCAN pattern for the checkpoint hashes of every partition of one migration."""
    return escape_glob(migration_checkpoint(migration_id, "")) + "*"


def checkpoint_partition(key: str, migration_id: str) -> str:
    """The partition name of a checkpoint key (``migration_checkpoint(migration_id, name)``)."""
    head = migration_checkpoint(migration_id, "")
    if not key.startswith(head):
        raise InvalidArgumentError(f"not a checkpoint key of {migration_id!r}")
    return key[len(head) :]


def model_pattern(model_prefix: str) -> str:
    """SCAN pattern for every record of one model."""
    return escape_glob(f"{MODEL_NAMESPACE}:{model_prefix}") + ":*"


def model_pk_from_key(key: str, model_prefix: str) -> str:
    """The primary key of a record key (ids and usernames may hold ':')."""
    return username_from_key(key, f"{MODEL_NAMESPACE}:{model_prefix}")


# --- Follower (``redis-client sync``, used by ``redis_client.follow``) ---


def follower_state(name: str) -> str:
    """Key of the follower's own state (lease, fingerprints, report, probe)."""
    return f"{MODEL_NAMESPACE}:follow:{name}"


#: redis-py ``Lock``: the follower holding it follows; the others stand by.
FOLLOW_LEASE = follower_state("lease")
#: Hash: ``posted_tweets`` key -> fingerprint of that sorted set as last reconciled.
FOLLOW_FINGERPRINTS = follower_state("fingerprints")
#: Hash: bad-entry id -> JSON of key, reason, preview (what the follower skipped).
FOLLOW_REPORT = follower_state("report")
#: String written with a short expiry: does a keyspace notification reach the follower?
FOLLOW_PROBE = follower_state("probe")

#: Legacy prefixes whose keys the follower follows (action types: the known ones).
FOLLOWED_PREFIXES: tuple[str, ...] = (POSTED_TWEETS, TWITTER_DATA, *ACTION_TYPES)


def keyspace_prefix(database: int) -> str:
    """What a keyspace-notification channel of ``database`` starts with, before the key."""
    return f"__keyspace@{database}__:"


def keyspace_pattern(database: int, key_pattern: str) -> str:
    """PSUBSCRIBE pattern of the keyspace notifications of keys matching ``key_pattern``."""
    return keyspace_prefix(database) + key_pattern
