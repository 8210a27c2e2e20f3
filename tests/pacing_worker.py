"""One agent process of tests/test_pacing.py: ``python pacing_worker.py MODE USERNAME DELAY CALLS``.

Connects (``REDIS_URL``), prints ``ready``, waits for a line on stdin (so that every agent starts
at once), then CALLS times: takes the account's posting slot (MODE ``sync``: ``RedisDB``;
``async``: ``AsyncRedisDB``), prints ``returned <time.time()> <seconds waited> <the slot's server
time, µs>`` and adds a post stamped with that second, as an agent does. MODE ``hold``: takes
the slot once, prints ``holding`` and sleeps in the block until killed.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from redis_client.aio import AsyncRedisDB
from redis_client.core import keys
from redis_client.db import RedisDB


def post(username: str, when: float, n: int) -> dict[str, Any]:
    return {"id": f"{username}-{when:.6f}-{n}", "text": "gm", "sender_username": username,
            "timestamp": int(when)}


def say(line: str) -> None:
    print(line, flush=True)


def run_sync(username: str, delay: float, calls: int, hold: bool) -> None:
    db = RedisDB()
    db.is_account_active(username)  # connected, and the process's first command done
    say("ready")
    sys.stdin.readline()
    for n in range(calls):
        with db.posting_slot(username, delay) as waited:
            now = time.time()
            if hold:
                say("holding")
                time.sleep(3600)
            go = int(db.r.hget(keys.posting_slot(username), "go"))
            say(f"returned {now:.6f} {waited:.6f} {go}")
            db.add_user_post(username, post(username, now, n))


async def run_async(username: str, delay: float, calls: int) -> None:
    async with AsyncRedisDB() as db:
        await db.is_account_active(username)
        say("ready")
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        for n in range(calls):
            async with db.posting_slot(username, delay) as waited:
                now = time.time()
                go = int(await db.r.hget(keys.posting_slot(username), "go"))
                say(f"returned {now:.6f} {waited:.6f} {go}")
                await db.add_user_post(username, post(username, now, n))


if __name__ == "__main__":
    mode, username, delay, calls = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    if mode == "async":
        asyncio.run(run_async(username, delay, calls))
    else:
        run_sync(username, delay, calls, hold=mode == "hold")
