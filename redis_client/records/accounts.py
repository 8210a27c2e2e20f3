"""Legacy accounts (``twitter_data:{username}`` and the action-time keys) -> ``TwitterAccount`` records.

An account exists while its ``twitter_data`` key exists: a hash, or an older JSON string (any
other type is reported and skipped). Its known action-time keys add the last action times.
Token fields are never copied (``translate.account_record`` drops them) and no value of
``twitter_data`` ever appears in a report or a log line.

Refresh rule (the ``UPSERT_ACCOUNT`` script, atomic per account, its only copy): a missing
record is created whole. An existing one gets each metadata field that ``twitter_data`` holds
(``name``, ``twitter_id``, ``expires_at``) when it differs, and each action time only when the
legacy one is newer (times never move back, so a concurrent ``update_account_last_action_time``
is never undone). Fields the legacy data lacks are left alone. A record that already matches is
not written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from redis_client.models.account import TwitterAccount

from .. import translate
from ..core import codec, keys, scripts
from ..core.errors import InvalidAccountDataError, server_message
from ..core.protocol import Call, Op, Pipeline, Script

#: Record fields refreshed from ``twitter_data`` when they differ.
META_FIELDS: tuple[str, ...] = tuple(translate.ACCOUNT_FIELDS)

#: ``report(key, reason)`` for a bad account or action time (never with a value).
Reporter = Callable[[bytes | str, str], None]

CREATED, UPDATED, UNCHANGED = 1, 2, 0


@dataclass
class LegacyAccount:
    key: bytes  # the twitter_data key
    username: str
    record: TwitterAccount

    @property
    def record_key(self) -> str:
        return keys.model_key(keys.ACCOUNT_PREFIX, self.username)

    def updates(self) -> list[tuple[str, str, Any]]:
        """(mode, field, value) the legacy data holds: 'm' metadata, 't' action time."""
        data = self.record.model_dump(mode="json")
        out: list[tuple[str, str, Any]] = []
        out += [("m", f, data[f]) for f in META_FIELDS if data.get(f) is not None]
        out += [("t", a, data[a]) for a in keys.ACTION_TYPES if data.get(a) is not None]
        return out


@dataclass(frozen=True)
class Upserted:
    #: ``CREATED``, ``UPDATED`` or ``UNCHANGED`` (what was, or with ``check``, would be done).
    code: int
    #: The fields that differ ("*": the whole record is missing).
    fields: tuple[str, ...] = ()
    #: Why the record could not be written (a key of another type), else None.
    error: str | None = None


def read_accounts(
    source_keys: Sequence[bytes], report: Reporter, missing: list[bytes] | None = None
) -> Op[list[LegacyAccount]]:
    """The valid accounts among ``twitter_data`` keys (two pipelined round trips); bad ones
    reported; the keys that do not exist are appended to ``missing`` when given."""
    kinds = yield Pipeline([Call("type", (key,)) for key in source_keys])
    wanted: list[tuple[bytes, str, str]] = []
    for key, kind_raw in zip(source_keys, kinds, strict=True):
        kind = codec.text(kind_raw)
        if kind == "none":  # removed since it was listed: the account no longer exists
            if missing is not None:
                missing.append(key)
            continue
        if kind not in ("hash", "string"):
            report(key, f"twitter_data key holds a {kind}, not a hash or a JSON string")
            continue
        username = keys.username_of(key, keys.TWITTER_DATA)
        if username is None:
            report(key, "key name does not hold a usable UTF-8 username")
            continue
        wanted.append((key, kind, username))
    calls: list[Call] = []
    for key, kind, username in wanted:
        calls.append(Call("hgetall" if kind == "hash" else "get", (key,)))
        calls += [Call("get", (keys.action_time(username, a),)) for a in keys.ACTION_TYPES]
    replies = yield Pipeline(calls)
    step = 1 + len(keys.ACTION_TYPES)
    accounts = []
    for i, (key, _kind, username) in enumerate(wanted):
        value, times = replies[i * step], replies[i * step + 1 : (i + 1) * step]
        account = _account(key, username, value, times, report)
        if account is not None:
            accounts.append(account)
    return accounts


def _account(
    key: bytes, username: str, value: Any, times: list[Any], report: Reporter
) -> LegacyAccount | None:
    if isinstance(value, Exception):  # its type changed since TYPE
        report(key, "twitter_data key changed type while being read")
        return None
    try:
        data = translate.twitter_data_fields(value)
        record = translate.account_record(username, data, _action_times(username, times, report))
    except InvalidAccountDataError as exc:  # messages name fields and reasons, never values
        report(key, str(exc))
        return None
    return LegacyAccount(key, username, record)


def _action_times(username: str, replies: list[Any], report: Reporter) -> dict[str, float]:
    times: dict[str, float] = {}
    for action, raw in zip(keys.ACTION_TYPES, replies, strict=True):
        if raw is None:
            continue
        key = keys.action_time(username, action)
        if isinstance(raw, Exception):
            report(key, "action-time key is not a string")
            continue
        try:
            value = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            value = None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            report(key, "action-time value is not a finite JSON number")
            continue
        times[action] = float(value)
    return times


def upsert_call(account: LegacyAccount, check: bool = False) -> Script:
    """The ``UPSERT_ACCOUNT`` call for one account (``check``: tell, write nothing)."""
    args: list[Any] = ["check" if check else "write", account.record.model_dump_json()]
    for mode, name, value in account.updates():
        args += [mode, name, json.dumps(value)]
    return Script(scripts.UPSERT_ACCOUNT, [account.record_key], args)


def upsert(accounts: Sequence[LegacyAccount], check: bool = False) -> Op[list[Upserted]]:
    """Create or refresh the records of ``accounts`` in one round trip (``check``: write nothing)."""
    replies = yield Pipeline([upsert_call(a, check) for a in accounts])
    out = []
    for reply in replies:
        if isinstance(reply, redis.ResponseError):
            reason = "cannot write the TwitterAccount record: " + server_message(reply)
            out.append(Upserted(UNCHANGED, error=reason))
            continue
        code = int(reply[0])
        names = tuple(f.decode() if isinstance(f, bytes) else str(f) for f in reply[1:])
        out.append(Upserted(code, ("*",) if code == CREATED else names))
    return out
