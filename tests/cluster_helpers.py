"""The same agent work on one server and on a cluster, and what it left, for comparing the two."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import redis
import redis.cluster

from redis_client.core import keys

#: Usernames whose braces change a key's hash slot, and plain ones.
USERS = ["alice", "bob", "{carol}", "d}a{v}e", "x{}", "ünï", "sp ace", "a:b*"]


def post(i: int, user: str) -> dict[str, Any]:
    return {
        "id": f"tw{i}", "text": f"words of post {i} #{i % 7}", "sender_username": user,
        "timestamp": 1_700_000_000 + i, "quoted_tweet_id": f"q{i}" if i % 5 == 0 else None,
        "is_reply_to": None, "is_news_summary_tweet": i % 3 == 0,
    }


def agent_work(call: Callable[..., Any]) -> list[Any]:
    """Every classic method, through ``call(name, *args)``; what each returned, in order."""
    out: list[Any] = []

    def do(name: str, *args: Any) -> Any:
        value = call(name, *args)
        out.append((name, _plain(value)))
        return value

    for n, user in enumerate(USERS):
        do("add_user_post", user, post(n, user))
        do("add_user_posts", user, [post(100 * (n + 1) + i, user) for i in range(40)])
        do("add_user_posts", user, [post(100 * (n + 1) + i, user) for i in range(35, 45)])
        do("update_account_last_action_time", user, "last_likes_time", 1000.5 + n)
        do("add_send_partnership", user, f"partner{n}")
        do("save_tweet_link", "create_tweet", str(n))
    do("add_user_post", "bob", post(0, "alice"))  # one post under two accounts
    for user in USERS:
        do("get_user_posts", user)
        do("get_account_last_action_time", user, "last_likes_time")
        do("get_send_partnership", user)
        do("is_account_active", user)
    do("set", "app:config", {"nested": [1, 2.5, "x"]})
    do("setex", "app:ttl", {"a": 1}, 100)
    do("set_default", "app:config", {"other": 1})
    do("get", "app:config")
    do("add_to_set", "app:set", "v1")
    do("get_set", "app:set")
    do("add_to_sorted_set", "app:zset", 5, "m")
    do("get_sorted_set", "app:zset")
    do("set", "app:list", [1, 2])
    do("parse_list", "app:list")
    do("get_function_variables")
    do("remove_account", "alice")
    do("get_user_posts", "alice")
    do("get_user_posts", "bob")
    do("delete", "app:ttl")
    do("get", "app:ttl", "gone")
    return out


def accounts_of(find: Callable[[], list[Any]]) -> list[tuple[str, list[str]]]:
    return sorted((p.id, sorted(p.accounts)) for p in find())


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return value


def legacy_dump(client: Any) -> dict[bytes, Any]:
    """Each key outside the project's namespace (and redis-om's record of applied migrations) with
    its type and value, read as other services would (the same bytes on one server and on a
    cluster)."""
    out: dict[bytes, Any] = {}
    for key in sorted(client.scan_iter(count=1000)):
        if key.startswith(keys.MODEL_NAMESPACE.encode()) or key == keys.APPLIED_MIGRATIONS.encode():
            continue
        kind = client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "string":
            value: Any = client.get(key)
        elif kind == "zset" and key.startswith(b"send_partnership:"):
            value = client.zrange(key, 0, -1)  # scored with the time added: compared without
        elif kind == "zset":
            value = client.zrange(key, 0, -1, withscores=True)
        elif kind == "set":
            value = sorted(client.smembers(key))
        elif kind == "list":
            value = client.lrange(key, 0, -1)
        elif kind == "hash":
            value = sorted(client.hgetall(key).items())
        else:
            value = kind
        out[key] = (kind, value)
    return out


def records(client: Any) -> dict[str, Any]:
    """Each record of the project, by key without its hash tag, as JSON."""
    out = {}
    for key in client.scan_iter(match=f"{keys.MODEL_NAMESPACE}:*", count=1000):
        if client.type(key) in (b"ReJSON-RL", "ReJSON-RL"):
            out[key.decode()] = json.loads(client.execute_command("JSON.GET", key))
    return out


def flush(client: Any) -> None:
    if isinstance(client, redis.cluster.RedisCluster):
        client.flushall(target_nodes=redis.cluster.RedisCluster.PRIMARIES)
    else:
        client.flushall()


def run_async(coroutine_fn: Callable[[], Any]) -> Any:
    return asyncio.run(coroutine_fn())
