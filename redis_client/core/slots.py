"""Cluster hash slots: which slot a key hashes to, and a hash tag for every slot.

On Redis Cluster a script or transaction may only touch keys of one slot. A key of the project
that must be written atomically with a legacy key (a tweet link's retry token, a posting-slot
reservation, an account record) is given a hash tag that hashes to the legacy key's slot:
``{prefix}:{<tag>}{rest}``. The legacy key is never changed; whatever its username holds
(braces included), its slot is computed with Redis's own rule (``redis.crc.key_slot``).
"""

from __future__ import annotations

import binascii
import functools
import itertools
import string

from redis.crc import key_slot

SLOTS = 16384
_ALPHABET = string.digits + string.ascii_letters


def slot_of(key: str | bytes) -> int:
    """The hash slot of ``key`` (its first non-empty ``{...}`` when it has one)."""
    return int(key_slot(key.encode("utf-8", "surrogatepass") if isinstance(key, str) else key))


@functools.cache
def _tags() -> tuple[str, ...]:
    """The shortest tag (digits and ASCII letters, shortest first) of every slot."""
    table: dict[int, str] = {}
    for length in itertools.count(1):
        for chars in itertools.product(_ALPHABET, repeat=length):
            tag = "".join(chars)
            # Redis's slot is CRC16-XMODEM mod 16384 (the tags hold no brace)
            table.setdefault(binascii.crc_hqx(tag.encode(), 0) % SLOTS, tag)
            if len(table) == SLOTS:
                return tuple(table[s] for s in range(SLOTS))
    raise AssertionError("unreachable")  # pragma: no cover


def tag_for_slot(slot: int) -> str:
    """A hash tag (without braces) whose keys hash to ``slot``."""
    return _tags()[slot]


def beside(legacy_key: str, prefix: str, rest: str) -> str:
    """``{prefix}{<tag>}{rest}``: a key in the same slot as ``legacy_key``. ``prefix`` must hold
    no brace (the tag must be the key's first ``{...}``)."""
    if "{" in prefix or "}" in prefix:
        raise ValueError("the prefix of a co-located key must hold no brace")
    return f"{prefix}{{{tag_for_slot(slot_of(legacy_key))}}}{rest}"
