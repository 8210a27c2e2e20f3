"""Per-key fingerprints of the ``posted_tweets`` sorted sets, and the atomic read that gives them.

A fingerprint is what one ``FOLLOW_READ`` call tells cheaply: ZCARD, the newest member's score
and SHA-1, and how many members share that score. It is stored, per key, in the hash
``redis_client_om:follow:fingerprints`` once the key's records are in step with that state.
A pass compares each key's current fingerprint with the stored one and reconciles only the keys
that differ: a key's size or newest member changes with every append, removal or trim. (A
removal plus an insertion below the newest member between two passes, with both notifications
lost, keeps it: the full pass, ``FollowOptions.full_interval``, finds those.)

Stores are compare-and-set (``FOLLOW_SET_FINGERPRINT``): a follower stores the state it read
only if the stored value is still the one it started from, so two followers never leave a
fingerprint of a state nobody reconciled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..core import codec, keys, scripts
from ..core.protocol import Script


@dataclass(frozen=True)
class Fingerprint:
    card: int
    #: The newest member's score as the server formats it (exact: it is passed back as a bound).
    top_score: str
    #: Members with that score.
    at_top: int
    #: SHA-1 (hex) of the newest member.
    top_sha: str

    def dumps(self) -> str:
        return json.dumps([self.card, self.top_score, self.at_top, self.top_sha])

    @classmethod
    def loads(cls, raw: bytes | str | None) -> Fingerprint | None:
        """The stored fingerprint; None when there is none or it cannot be read."""
        if raw is None:
            return None
        try:
            card, score, at_top, sha = json.loads(raw)
            return cls(int(card), str(score), int(at_top), str(sha))
        except (ValueError, TypeError):
            return None


@dataclass(frozen=True)
class SetRead:
    """One ``FOLLOW_READ`` reply."""

    #: The key's type: 'zset', 'none' (no key) or another type.
    kind: str
    fingerprint: Fingerprint | None
    #: The members asked for (empty when none were).
    members: list[bytes]


def read_call(zkey: bytes, since: str | None = None, limit: int = 0) -> Script:
    """``FOLLOW_READ`` of one key: its fingerprint, and with ``since`` the members with a score
    of at least ``since`` (``'-inf'``: all), at most ``limit`` of them."""
    return Script(scripts.FOLLOW_READ, [zkey], ["" if since is None else since, limit])


def parse_read(reply: list[Any]) -> SetRead:
    kind = codec.text(reply[0])
    if kind != "zset":
        return SetRead(kind, None, [])
    fp = Fingerprint(int(reply[1]), codec.text(reply[3]), int(reply[4]), codec.text(reply[2]))
    return SetRead(kind, fp, list(reply[5:]))


def store_call(zkey: bytes, expected: bytes | None, new: Fingerprint | None) -> Script:
    """Compare-and-set of ``zkey``'s stored fingerprint (``new`` None: forget the key)."""
    return Script(
        scripts.FOLLOW_SET_FINGERPRINT,
        [keys.FOLLOW_FINGERPRINTS],
        [zkey, expected if expected is not None else b"", new.dumps() if new is not None else ""],
    )
