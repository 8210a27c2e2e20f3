"""One agent process of benchmark 9.2: ``python _pacing_agent.py URL DELAY ACCOUNT...``.

One coroutine per account on one event loop, as an agent serving many accounts does. Connects
and warms up (connections open, scripts known), prints ``ready``, waits for a line on stdin (all
agents start at once), then takes each account's posting slot once and prints a JSON list of
``[account, time.time() of the return, seconds waited]``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from redis_client.aio import AsyncRedisDB
from redis_client.core.settings import load_settings


async def main(url: str, delay: float, accounts: list[str]) -> None:
    async with AsyncRedisDB(load_settings(url=url)) as db:
        await asyncio.gather(*(db.get(f"warm:{i}") for i in range(len(accounts))))
        async with db.posting_slot(f"warm-agent-{os.getpid()}", 0):
            pass
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

        async def agent(account: str) -> tuple[str, float, float]:
            async with db.posting_slot(account, delay) as waited:
                return account, time.time(), waited

        print(json.dumps(await asyncio.gather(*(agent(a) for a in accounts))), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2]), sys.argv[3:]))
