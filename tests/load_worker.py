"""The workload of tests/test_load.py: one worker (a thread, or a whole spawned process).

Kept in its own module so that ``multiprocessing``'s spawn start method can import it.
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
from typing import Any

from redis_client.core.settings import RedisSettings

T0 = 1_700_000_000
#: At most this many tracebacks are kept per worker (the count of errors is always exact).
MAX_TRACEBACKS = 3


def shared_post(account: str) -> dict[str, Any]:
    """The same post, identical content, added by every worker: it must be stored once."""
    return {"id": f"shared-{account}", "text": "shared", "sender_username": account, "timestamp": T0}


def run_worker(db: Any, name: str, accounts: list[str], duration: float) -> dict[str, Any]:
    """Write and read the shared accounts for ``duration`` seconds; report what was acknowledged.

    Every call's result is checked (read your own writes); an exception is recorded, never raised.
    """
    from redis_client.models import Post

    acked: dict[str, list[str]] = {a: [] for a in accounts}
    shared: dict[str, bool] = {a: False for a in accounts}
    errors: list[str] = []
    error_count = 0
    deadline = time.monotonic() + duration
    i = 0
    while time.monotonic() < deadline:
        i += 1
        account = accounts[i % len(accounts)]
        pid = f"{name}-{i}"
        try:
            db.add_user_post(
                account,
                {"id": pid, "text": f"load {pid}", "sender_username": account, "timestamp": T0 + i},
            )
            acked[account].append(pid)
            if i % 5 == 0:
                db.add_user_post(account, shared_post(account))
                shared[account] = True
            db.update_account_last_action_time(account, "last_likes_time", float(T0 + i))
            assert db.get_account_last_action_time(account, "last_likes_time") > 0
            db.set(f"load:{name}", {"i": i})
            assert db.get(f"load:{name}") == {"i": i}
            assert not db.is_account_active(account)
            if i % 10 == 0:
                ids = {p.id for p in db.get_user_posts(account)}
                assert set(acked[account]) <= ids, "own acknowledged posts are readable"
                found = Post.find(Post.sender_username == account).count()
                assert found >= len(acked[account]), "own posts are found by a model query"
        except Exception:
            error_count += 1
            if len(errors) < MAX_TRACEBACKS:
                errors.append(f"{name}: {traceback.format_exc()}")
    return {"name": name, "acked": acked, "shared": shared, "errors": errors,
            "error_count": error_count, "iterations": i}


def process_main(
    settings: RedisSettings,
    name: str,
    accounts: list[str],
    duration: float,
    ready: Any,
    go: Any,
    results: multiprocessing.Queue[Any],
) -> None:
    """Entry point of a spawned process: its own RedisDB and model binding, from ``settings``."""
    try:
        from redis_client import models
        from redis_client.db import RedisDB

        models.bind(settings)
        db = RedisDB(settings)
        db.wait_for_redis(10)
        ready.release()
        go.wait(60)
        results.put(run_worker(db, name, accounts, duration))
    except BaseException:
        results.put({"name": name, "errors": [traceback.format_exc()], "error_count": 1})
        ready.release()
