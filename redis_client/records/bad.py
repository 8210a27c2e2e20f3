"""Bad legacy data, as the bulk jobs report it: the key, the reason, a short preview of a member.

Shared by the migration and the follower, so both report alike. A preview is kept for post
members only (their first ``PREVIEW_CHARS`` characters); account data (``twitter_data`` holds
tokens) is never read into an entry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

#: Characters of a bad post member kept in a report.
PREVIEW_CHARS = 80


@dataclass(frozen=True)
class BadEntry:
    key: str
    reason: str
    #: The first ``PREVIEW_CHARS`` characters of a post member; None for account data.
    preview: str | None = None

    def to_json(self) -> str:
        return json.dumps({"key": self.key, "reason": self.reason, "preview": self.preview})

    @classmethod
    def from_json(cls, text: str | bytes) -> BadEntry:
        data = json.loads(text)
        preview = data.get("preview")
        return cls(str(data["key"]), str(data["reason"]), None if preview is None else str(preview))


def key_name(key: bytes | str) -> str:
    """A key for messages and reports (bytes that are not UTF-8 shown escaped)."""
    return key.decode("utf-8", "backslashreplace") if isinstance(key, bytes) else key


def preview(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "..."


def _raw(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")


def entry_id(key: bytes | str, detail: bytes | str = b"") -> str:
    """Stable id of a bad entry: the same bad member met again (a resumed batch, the next pass)
    is stored once."""
    return hashlib.blake2b(_raw(key) + b"\0" + _raw(detail), digest_size=8).hexdigest()


def bad_item(key: bytes | str, reason: str, raw: bytes | None = None) -> tuple[str, BadEntry]:
    """A report entry and its stable id; ``raw`` (a post member) gives the preview."""
    entry = BadEntry(key_name(key), reason, preview(raw) if raw is not None else None)
    return entry_id(key, raw if raw is not None else reason), entry
