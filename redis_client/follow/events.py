"""Keyspace notifications: turning them on, and the listener thread that feeds ``Pending``.

The follower needs ``notify-keyspace-events`` to hold ``K`` (keyspace channels) and the classes
of the commands other services use on the followed keys: ``z`` (sorted sets), ``h`` (hashes),
``$`` (strings), ``g`` (DEL, RENAME, EXPIRE...), ``x`` (expired), ``e`` (evicted). Flags already
set are kept (other consumers may rely on them). Managed Redis often refuses CONFIG; then the
flags must be set by the operator (``notify-keyspace-events Kghz$xe`` in redis.conf, or the
provider's parameter group), and until they are the follower reconciles periodically.

Whether notifications really arrive is checked end to end: the follower writes its probe key
(``redis_client_om:follow:probe``) as a string, a sorted set and a hash, deleting it after each,
and waits for those notifications (``PROBE_EVENTS``): also where CONFIG cannot be read.

A keyspace notification names the key and the command (``zadd``, ``zrem``, ``del``, ``hset``,
``set``, ``expired``...), not the member: the key is marked pending with the command, and the
follower reads it. Pub/sub is at most once: the listener reports each (re)subscription, after
which the follower reconciles what it may have missed.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from ..core import codec, keys
from ..core.errors import server_message
from .pending import Pending
from .stats import FollowStats

log = logging.getLogger("redis_client.follow")

#: The flags the follower needs (see the module docstring).
NEEDED_FLAGS = "Kghz$xe"
#: What ``A`` stands for in ``notify-keyspace-events``.
_ALL = "g$lshzxetd"
#: How to enable notifications by hand (for log lines).
HOW_TO = (
    f"set notify-keyspace-events to include '{NEEDED_FLAGS}' (redis.conf: "
    f"notify-keyspace-events {NEEDED_FLAGS}; redis-cli: CONFIG SET notify-keyspace-events "
    f"{NEEDED_FLAGS}; on managed Redis: the provider's parameter group)"
)


#: The probe's commands whose notifications must arrive (classes $, z, h and g).
PROBE_EVENTS = frozenset({"set", "zadd", "hset", "del"})


def probe_commands(pipe: Any, key: str) -> None:
    """Queue the probe's writes on ``pipe`` (each class once; the key is gone afterwards)."""
    pipe.set(key, b"1", px=5000)
    pipe.delete(key)
    pipe.zadd(key, {b"probe": 0})
    pipe.delete(key)
    pipe.hset(key, b"probe", b"1")
    pipe.delete(key)


def missing_flags(current: str) -> str:
    """The needed flags ``current`` lacks."""
    have = set(current.replace("A", _ALL))
    return "".join(f for f in NEEDED_FLAGS if f not in have)


@dataclass(frozen=True)
class Setup:
    """What enabling notifications did."""

    #: The flags were already there, or were added now.
    enabled: bool
    #: Why they could not be checked or set (CONFIG refused...), else None.
    problem: str | None = None


def enable_notifications(client: redis.Redis[Any], configure: bool) -> Setup:
    """Make sure ``notify-keyspace-events`` holds the needed flags (CONFIG GET, then SET)."""
    try:
        reply = client.config_get("notify-keyspace-events")
    except redis.ResponseError as exc:
        return Setup(False, problem=f"CONFIG GET refused ({server_message(exc)})")
    current = codec.text(next(iter(reply.values()), "")) if isinstance(reply, dict) else ""
    missing = missing_flags(current)
    if not missing:
        return Setup(True)
    if not configure:
        return Setup(False, problem=f"notify-keyspace-events lacks '{missing}' (configuring is off)")
    try:
        client.config_set("notify-keyspace-events", current + missing)
    except redis.ResponseError as exc:
        return Setup(False, problem=f"CONFIG SET refused ({server_message(exc)})")
    log.info("keyspace notifications turned on: notify-keyspace-events '%s' + '%s'", current, missing)
    return Setup(True)


def patterns(database: int, cluster: bool = False) -> list[str]:
    """The PSUBSCRIBE patterns: every followed prefix, and the probe key (on a cluster, the probe
    keys of every primary: ``redis_client_om:follow:probe{<tag>}``; one list for every node)."""
    out = [keys.keyspace_pattern(database, keys.prefix_pattern(p)) for p in keys.FOLLOWED_PREFIXES]
    probe = keys.escape_glob(keys.FOLLOW_PROBE) + ("{*}" if cluster else "")
    return out + [keys.keyspace_pattern(database, probe)]


class Listener(threading.Thread):
    """Reads keyspace notifications on its own pub/sub connection until ``stop`` is set.

    ``on_subscribed`` is called after each (re)subscription (redis-py subscribes again by itself
    when it reconnects); ``refused`` holds why the server refused the subscription (an ACL
    without the channel), after which the thread ends. ``probe_key`` is the probe key whose
    notifications it collects (on a cluster, its primary's; it may be changed while it runs).
    """

    def __init__(
        self,
        client: redis.Redis[Any],
        database: int,
        pending: Pending,
        stats: FollowStats,
        on_subscribed: Callable[[], None],
        probe_key: str = keys.FOLLOW_PROBE,
        cluster: bool = False,
    ) -> None:
        super().__init__(name="redis-client-follow-listener", daemon=True)
        self.client = client
        self.prefix = keys.keyspace_prefix(database).encode()
        self.patterns = patterns(database, cluster)
        self.pending = pending
        self.stats = stats
        self.on_subscribed = on_subscribed
        self.stop = threading.Event()
        #: Commands notified on the probe key since ``probe_events`` was last cleared.
        self.probe_events: set[str] = set()
        self.probe_seen = threading.Event()
        self.refused: str | None = None
        #: Set once subscribed (or refused); ``failing`` while its connection is lost.
        self.subscribed = threading.Event()
        self.failing = False
        self._posts = f"{keys.POSTED_TWEETS}:".encode()
        self._data = f"{keys.TWITTER_DATA}:".encode()
        self._times = tuple(f"{a}:".encode() for a in keys.ACTION_TYPES)
        self.probe_key = probe_key.encode()

    def run(self) -> None:
        pubsub = self.client.pubsub()
        asked = False
        try:
            while not self.stop.is_set():
                try:
                    if not asked:  # redis-py subscribes again by itself after a reconnection
                        pubsub.psubscribe(*self.patterns)
                        asked = True
                    message = pubsub.get_message(timeout=1.0)
                except (redis.ConnectionError, redis.TimeoutError) as exc:
                    if not self.failing:
                        log.warning("notifications: connection lost (%s); reconnecting", type(exc).__name__)
                        self.failing = True
                    self.stop.wait(0.5)
                    continue
                except redis.ResponseError as exc:
                    self.refused = server_message(exc)
                    log.warning("notifications: subscription refused (%s)", self.refused)
                    self.subscribed.set()
                    self.on_subscribed()  # the follower sees the refusal and polls instead
                    return
                if message is None:
                    continue
                self.failing = False
                self._handle(message)
        except redis.ResponseError as exc:
            self.refused = server_message(exc)
            self.subscribed.set()
            self.on_subscribed()
        except Exception:  # noqa: BLE001 - never die silently: the follower falls back to polling
            log.exception("notifications: listener failed")
            self.refused = "listener failed"
            self.subscribed.set()
            self.on_subscribed()
        finally:
            with contextlib.suppress(Exception):  # closing a broken connection
                pubsub.close()

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "psubscribe":
            if int(message.get("data") or 0) == len(self.patterns):  # the last pattern confirmed
                self.subscribed.set()
                self.on_subscribed()
            return
        if kind != "pmessage":
            return
        channel = message["channel"]
        if not channel.startswith(self.prefix):
            return
        key = channel[len(self.prefix) :]
        event = codec.text(message["data"])
        now = time.monotonic()
        if key.startswith(self._posts):
            self.stats.event()
            self.pending.post_key(key, event, now)
        elif key.startswith(self._data) or key.startswith(self._times):
            self.stats.event()
            username = _username(key)
            if username is not None:
                self.pending.account(username, now)
        elif key == self.probe_key:
            self.probe_events.add(event)
            self.probe_seen.set()


def _username(key: bytes) -> str | None:
    """The username of ``{prefix}:{username}`` (the part after the first ':')."""
    try:
        name = key.decode("utf-8").split(":", 1)[1]
    except (UnicodeDecodeError, IndexError):
        return None
    return name or None
