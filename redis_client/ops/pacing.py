"""Pacing of an account's posts across agents: its posting slot, taken and given back atomically.

The ``POSTING_RESERVE`` script decides on the server's clock who goes: the slot is free once
``delay`` has passed since the account's newest post, and ``delay`` plus a small margin since the
last slot taken (the reservation key ``keys.posting_slot``). The caller that finds it free takes
it; the others are told how long to wait, and ask again. Waiters hold nothing.
``POSTING_RELEASE`` gives a slot back (only while it is still its taker's). No legacy key is
written.
"""

from __future__ import annotations

import logging
import math
import random
import uuid

from ..core import keys, scripts
from ..core.errors import InvalidArgumentError, InvalidArgumentTypeError
from ..core.protocol import Op, Script, Sleep

log = logging.getLogger("redis_client")

#: ``delay=None``: a delay drawn at random, in whole seconds, for each call.
DEFAULT_DELAY_RANGE = (5 * 60, 10 * 60)
#: The reservation outlives its slot by at least this (seconds): a later caller whose delay is
#: longer than its taker's (every ``delay=None`` draw) still counts from that slot.
MIN_LIFETIME = float(DEFAULT_DELAY_RANGE[1])
#: A slot is taken on the server's clock, and its taker returns once the reply reaches it: the
#: next slot comes this share of ``delay`` later (at most :data:`MAX_MARGIN` s), so that the
#: next caller returns ``delay`` after the previous one even when that reply was slow.
MARGIN = 0.05
MAX_MARGIN = 0.1


def check(username: str, delay: object) -> float:
    """``delay`` in seconds (a random 5-10 min when None), once ``username`` and ``delay`` are
    found usable (else an error, before any request)."""
    keys.check_username(username)
    if delay is None:
        return float(random.randint(*DEFAULT_DELAY_RANGE))
    if isinstance(delay, bool) or not isinstance(delay, (int, float)):
        raise InvalidArgumentTypeError("delay must be a number of seconds (or None)")
    if not math.isfinite(delay) or delay < 0:
        raise InvalidArgumentError("delay must be a finite number of seconds >= 0")
    return float(delay)


def new_token() -> str:
    """A call's own token: the slot it takes is marked with it."""
    return uuid.uuid4().hex


def spacing(delay: float) -> float:
    """Seconds from one slot taken to the next: ``delay`` and its margin."""
    return delay + min(delay * MARGIN, MAX_MARGIN)


def lifetime_ms(delay: float) -> int:
    """How long a reservation taken with ``delay`` lives (ms)."""
    return math.ceil(max(spacing(delay), MIN_LIFETIME) * 1000)


def _us(seconds: float) -> int:
    return math.ceil(seconds * 1_000_000)


def reserve(username: str, delay: float, token: str) -> Op[float]:
    """One attempt: 0.0 when the slot is now ``token``'s, else the seconds to wait."""
    wait_us = yield Script(
        scripts.POSTING_RESERVE,
        (keys.posted_tweets(username), keys.posting_slot(username)),
        (_us(delay), _us(spacing(delay)), token, lifetime_ms(delay)),
    )
    return int(wait_us) / 1_000_000


def take(username: str, delay: float, token: str) -> Op[float]:
    """Ask, pause as long as told, ask again, until the slot is ``token``'s; the seconds paused.
    ``delay`` comes from :func:`check`."""
    waited = 0.0
    while (wait := (yield from reserve(username, delay, token))) > 0:
        if not waited:
            log.info("waiting %.0fs before the next post of this account", wait)
        yield Sleep(wait)
        waited += wait
    return waited


def release(username: str, token: str) -> Op[bool]:
    """Give the slot ``token`` took back (the previous one counts again); False when it was no
    longer ``token``'s."""
    return bool((yield Script(scripts.POSTING_RELEASE, (keys.posting_slot(username),), (token,))))
