"""Accounts: twitter_data, action times, partnerships, tweet links, the prompt map, removal."""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from typing import Any

import redis

from redis_client.models.account import TwitterAccount
from redis_client.models.post import Post

from ..core import keys, scripts
from ..core.codec import decode_value, encode_value, json_reply
from ..core.errors import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    QueryValueError,
    ReplicationTimeoutError,
)
from ..core.protocol import Call, Clustered, Models, Op, Pipeline, Script
from ..core.scan import scan_all
from ..core.settings import RedisSettings

log = logging.getLogger("redis_client")

TWEET_LINK = "https://twitter.com/i/web/status/{tweet_id}"


def get_twitter_data_keys() -> Op[list[str]]:
    return [k.decode("utf-8") for k in (yield from scan_all(keys.prefix_pattern(keys.TWITTER_DATA)))]


def get_active_twitter_accounts() -> Op[list[str]]:
    """Usernames with a ``twitter_data`` key (full names, ':' included)."""
    names = yield from get_twitter_data_keys()
    return [keys.username_from_key(k, keys.TWITTER_DATA) for k in names]


def is_account_active(username: str) -> Op[bool]:
    return bool((yield Call("exists", (keys.twitter_data(username),))))


def get_account_last_action_time(username: str, action_type: str) -> Op[float]:
    """Seconds since epoch of the last such action; 0.0 when never recorded."""
    key = keys.action_time(username, action_type)
    return float(decode_value(key, (yield Call("get", (key,)))) or 0)


def update_account_last_action_time(username: str, action_type: str, timestamp: float) -> Op[None]:
    """Record the time; also in the account's ``TwitterAccount`` record when it exists."""
    key = keys.action_time(username, action_type)
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)):
        raise InvalidArgumentTypeError(f"timestamp for {key!r} must be a number")
    if not math.isfinite(timestamp):
        raise InvalidArgumentError(f"timestamp for {key!r} must be finite")
    if not (yield Models()):
        yield Call("set", (key, json.dumps(timestamp)))
        return
    field = action_type if action_type in TwitterAccount.model_fields else None
    patch = {field: timestamp} if field else {"other_action_times": {action_type: timestamp}}
    record = keys.model_key(keys.ACCOUNT_PREFIX, username)
    if (yield Clustered()):  # two slots: the legacy key, then the record (a gap heals by sync)
        yield Call("set", (key, json.dumps(timestamp)))
        yield Script(scripts.MERGE_RECORD, [record], [json.dumps(patch)])
        return
    yield Script(scripts.SET_ACTION_TIME, [key, record], [json.dumps(timestamp), json.dumps(patch)])


def add_send_partnership(username: str, partner_user_id: str) -> Op[None]:
    yield Call("zadd", (keys.send_partnership(username), {partner_user_id: int(time.time())}))


def get_send_partnership(username: str) -> Op[list[str]]:
    members = yield Call("zrange", (keys.send_partnership(username), 0, -1))
    return [m.decode("utf-8") for m in members]


def store_function_variables(
    function_variables: dict[str, list[str]], first_command: bool = False
) -> Op[dict[str, list[str]]]:
    """Write the prompt-variable map under ``function_variables`` (services read it there); a copy
    of the map.

    As a process's ``first_command`` it never fails the command that follows (maybe a read): on a
    read-only replica it is skipped, and replicas slow to acknowledge it (``REDIS_WAIT_REPLICAS``)
    are not waited for.
    """
    mapping = {k: list(v) for k, v in function_variables.items()}
    try:
        yield Call("set", (keys.FUNCTION_VARIABLES, encode_value(keys.FUNCTION_VARIABLES, mapping)))
    except (redis.ReadOnlyError, ReplicationTimeoutError) as exc:
        if not first_command:
            raise
        log.info("function_variables: %s", "not stored: the server is a read-only replica"
                 if isinstance(exc, redis.ReadOnlyError) else "stored, not yet on the replicas")
    return mapping


def get_function_variables(function_variables: dict[str, list[str]]) -> Op[dict[str, list[str]]]:
    """The prompt-variable map; also stored under ``function_variables``."""
    return (yield from store_function_variables(function_variables))


def link_token_ttl(settings: RedisSettings) -> int:
    """Seconds a call's token must outlive every retry of that call (twice the worst case; behind
    Sentinel, retries go on for up to the startup wait)."""
    attempt = settings.socket_connect_timeout + settings.socket_timeout + settings.retry_backoff_cap
    worst = (settings.retries + 1) * attempt
    if settings.sentinels:
        worst = max(worst, settings.startup_wait + attempt)
    return max(60, math.ceil(2 * worst))


def save_tweet_link(function_name: str, tweet_id: str, token_ttl: int) -> Op[None]:
    """Append the tweet's link to ``created_tweet:{function_name}``: one entry per call.

    A token unique to this call (kept ``token_ttl`` seconds: ``link_token_ttl``) is set by the
    same script, so a retry of the call after a lost reply (redis-py's ``Retry`` sends it again)
    appends nothing more.
    """
    link = TWEET_LINK.format(tweet_id=tweet_id)
    key = keys.created_tweet(function_name)
    token = keys.call_token(uuid.uuid4().hex, beside=key)
    yield Script(scripts.SAVE_LINK, [key, token], [link, token_ttl])


def remove_account(username: str) -> Op[int]:
    """Delete the account's legacy keys and records; posts shared with others stay theirs.

    Returns the number of keys deleted.
    """
    record = keys.model_key(keys.ACCOUNT_PREFIX, keys.check_username(username))
    action_types = set(keys.ACTION_TYPES)
    post_keys: list[str] = []
    if (yield Models()):
        action_types |= yield from _other_action_types(record)
        post_keys = yield from _post_record_keys(username)
    legacy = keys.legacy_account_keys(username, tuple(sorted(action_types)))
    plain = [*legacy, record]
    name = json.dumps(username)
    if (yield Clustered()):
        deleted = yield from _remove_in_steps(name, keys.posted_tweets(username), plain, post_keys)
    else:
        deleted = yield Script(scripts.REMOVE_ACCOUNT, [*plain, *post_keys], [name, len(plain)])
    log.info("removed account (%d keys deleted)", deleted)
    return int(deleted)


def _remove_in_steps(name: str, zkey: str, plain: list[str], post_keys: list[str]) -> Op[int]:
    """``remove_account`` on a cluster, where its keys lie in many slots: one single-slot script
    per key, each idempotent; the posts' sorted set goes last, so a call cut midway and made
    again still finds the posts whose records it must unlink."""
    steps = [Script(scripts.REMOVE_ACCOUNT, [k], [name, 0]) for k in post_keys]
    steps += [Script(scripts.REMOVE_ACCOUNT, [k], [name, 1]) for k in plain if k != zkey]
    deleted = 0
    for reply in (yield Pipeline(steps)):
        if isinstance(reply, Exception):
            raise reply
        deleted += int(reply)
    return deleted + int((yield Script(scripts.REMOVE_ACCOUNT, [zkey], [name, 1])))


def _other_action_types(record: str) -> Op[set[str]]:
    """Action types beyond the known ones that the account's record lists."""
    try:
        raw = yield Call("execute_command", ("JSON.GET", record, "$.other_action_times"))
    except redis.ResponseError:  # not a JSON record: deleted like any account key
        return set()
    extra = json_reply(raw) if raw else None
    if not extra or not isinstance(extra[0], dict):
        return set()
    return {a for a in extra[0] if isinstance(a, str) and ":" not in a}


def _post_record_keys(username: str) -> Op[list[str]]:
    """Record keys of the account's posts: its sorted set's ids and the index's matches."""
    ids: set[str] = set()
    for raw in (yield Call("zrange", (keys.posted_tweets(username), 0, -1))):
        try:
            value = json.loads(raw)
        except ValueError:
            continue
        if isinstance(value, dict) and value.get("id") is not None:
            ids.add(str(value["id"]))
    try:
        query = Post.find(Post.accounts == username)  # type: ignore[comparison-overlap]
        found: list[Any] = yield from query._all_op(1000)
        ids.update(p.id for p in found)
    except QueryValueError:
        pass  # no exact query for this name: the sorted set's ids are all there is
    return [keys.model_key(keys.POST_PREFIX, i) for i in sorted(ids)]
