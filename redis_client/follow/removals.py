"""What the follower takes out of the records: an account out of the posts its sorted set no
longer holds, and the record of an account whose ``twitter_data`` key is gone.

On one server each is one atomic script that reads the legacy key and writes the records:
``FOLLOW_UNLINK_POSTS`` writes nothing when the set changed since it was compared (other than by
appends) and keeps a record whose id an appended member holds; ``FOLLOW_DROP_ACCOUNT`` deletes
the record only while ``twitter_data`` does not exist.

On a cluster a record and its legacy key lie in different slots, so each is single-slot steps,
each idempotent, and the legacy key is read again after the records are written:

- unlink: the set's stored fingerprint is forgotten (compare-and-set), the records unlinked (one
  ``FOLLOW_UNLINK_RECORDS`` call per slot), then the set's fingerprint read again
  (``FOLLOW_READ``). A set no longer as compared changed meanwhile and is compared again: a
  record unlinked while its member was added back is linked again then. Were the follower
  stopped before that, the next pass compares the set anyway (it has no stored fingerprint).
  No longer atomic: until then, a record may lack an account whose set holds its member again.
- drop: the record (``FOLLOW_DROP_RECORD``), then ``twitter_data`` checked again: an account
  written meanwhile is reported back, to be reconciled at once (every pass lists every account
  too). No longer atomic: until then, an account that exists again may lack its record.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import redis

from ..core import keys, scripts, slots
from ..core.errors import server_message
from ..core.protocol import Call, Clustered, Op, Pipeline, Script
from .fingerprint import Fingerprint, parse_read, read_call, store_call

#: Record keys per unlinking call.
UNLINK_CHUNK = 500


@dataclass(frozen=True)
class Unlink:
    """Take ``username`` out of the records of ``ids``; ``compared`` is the state of its set the
    removals were found in (None: no key), ``stored`` its stored fingerprint then (None: none)."""

    zkey: bytes
    username: str
    compared: Fingerprint | None
    ids: Sequence[str]
    stored: bytes | None = None


@dataclass
class Unlinked:
    unlinked: int = 0
    deleted: int = 0
    #: The set changed since it was compared (or another follower moved its fingerprint on):
    #: compare it again.
    changed: bool = False
    #: Its stored fingerprint was forgotten (on a cluster): there is none now.
    forgotten: bool = False
    #: The server's messages of the calls that failed.
    errors: list[str] | None = None

    def failed(self, message: str) -> None:
        self.errors = [*(self.errors or []), message]


def unlink(jobs: Sequence[Unlink]) -> Op[list[Unlinked]]:
    """Take each account out of the records of the ids its set no longer holds."""
    out = [Unlinked() for _ in jobs]
    clustered = yield Clustered()
    if clustered:
        forgot = yield Pipeline([store_call(job.zkey, job.stored, None) for job in jobs])
        for result, reply in zip(out, forgot, strict=True):
            result.forgotten = not isinstance(reply, redis.ResponseError) and int(reply) == 1
            result.changed = not result.forgotten  # another follower stored a newer state
    calls: list[tuple[int, Script]] = []
    for n, job in enumerate(jobs):
        if not clustered:
            calls += [(n, _guarded_call(job, job.ids[i : i + UNLINK_CHUNK]))
                      for i in range(0, len(job.ids), UNLINK_CHUNK)]
        elif out[n].forgotten:
            by_slot: dict[int, list[str]] = {}
            for pid in job.ids:
                by_slot.setdefault(slots.slot_of(record_key(pid)), []).append(pid)
            calls += [(n, _records_call(job.username, group[i : i + UNLINK_CHUNK]))
                      for group in by_slot.values() for i in range(0, len(group), UNLINK_CHUNK)]
    replies = (yield Pipeline([call for _, call in calls])) if calls else []
    for (n, _), reply in zip(calls, replies, strict=True):
        if isinstance(reply, redis.ResponseError):
            out[n].failed(server_message(reply))
        elif int(reply[0]) < 0:
            out[n].changed = True  # one server: the set changed since it was read, nothing written
        else:
            out[n].unlinked += int(reply[0])
            out[n].deleted += int(reply[1])
    if clustered and calls:  # the set read again, after the records: changed, it is compared again
        reads = yield Pipeline([read_call(job.zkey) for job in jobs])
        for job, result, reply in zip(jobs, out, reads, strict=True):
            if isinstance(reply, redis.ResponseError):
                result.changed = True
                continue
            now = parse_read(reply)
            result.changed |= now.fingerprint != job.compared or (job.compared is None and now.kind != "none")
    return out


def _guarded_call(job: Unlink, ids: Sequence[str]) -> Script:
    fp = job.compared
    guard = [fp.card, fp.top_score, fp.at_top] if fp is not None else [0, "-inf", 0]
    args = [json.dumps(job.username), *guard, *ids]
    return Script(scripts.FOLLOW_UNLINK_POSTS, [job.zkey, *(record_key(i) for i in ids)], args)


def _records_call(username: str, ids: Sequence[str]) -> Script:
    return Script(scripts.FOLLOW_UNLINK_RECORDS, [record_key(i) for i in ids], [json.dumps(username)])


@dataclass
class Dropped:
    removed: int = 0
    #: Its ``twitter_data`` key exists again: reconcile the account again.
    back: bool = False
    error: str | None = None


def drop_accounts(usernames: Sequence[str]) -> Op[list[Dropped]]:
    """Remove the records of these accounts, whose ``twitter_data`` key was found gone."""
    record_keys = [keys.model_key(keys.ACCOUNT_PREFIX, u) for u in usernames]
    data_keys = [keys.twitter_data(u) for u in usernames]
    clustered = yield Clustered()
    if clustered:
        calls = [Script(scripts.FOLLOW_DROP_RECORD, [record], []) for record in record_keys]
    else:  # checks again that the key is gone, atomically
        calls = [Script(scripts.FOLLOW_DROP_ACCOUNT, [data, record], [])
                 for data, record in zip(data_keys, record_keys, strict=True)]
    out = []
    for reply in (yield Pipeline(calls)):
        if isinstance(reply, redis.ResponseError):
            out.append(Dropped(error=server_message(reply)))
        else:
            out.append(Dropped(removed=int(reply)))
    if clustered and usernames:
        exists = yield Pipeline([Call("exists", (key,)) for key in data_keys])
        for dropped, found in zip(out, exists, strict=True):
            dropped.back = isinstance(found, redis.ResponseError) or int(found) > 0
    return out


def record_key(post_id: str) -> str:
    return keys.model_key(keys.POST_PREFIX, post_id)
