"""``ensure_delay_between_posts``: wait until an account may post again, without blocking the loop."""

from __future__ import annotations

import asyncio
import logging
import random
import time

from ..core import keys
from ..core.connector import Connector
from ..core.drivers import arun
from ..core.protocol import Call, Op

log = logging.getLogger("redis_client")


def seconds_to_wait(username: str, delay: float | None) -> Op[float]:
    """How long until ``delay`` seconds (random 5-10 min when None) passed since the newest post."""
    newest = yield Call("zrange", (keys.posted_tweets(username), -1, -1), {"withscores": True})
    if not newest:
        return 0.0
    if delay is None:  # 0 means no delay, not the default
        delay = random.randint(5 * 60, 10 * 60)
    elapsed = time.time() - float(newest[0][1])
    return max(delay - elapsed, 0.0)


async def ensure_delay(connector: Connector, username: str, delay: float | None = None) -> float:
    """Sleep (``asyncio.sleep``) until the account may post again; the seconds waited."""
    wait = await arun(connector, seconds_to_wait(username, delay))
    if wait > 0:
        log.info("waiting %.0fs before the next post of this account", wait)
        await asyncio.sleep(wait)
    return wait
