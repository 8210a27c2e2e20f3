"""``posted_tweets`` keys -> ``Post`` records: a batch of changed keys brought in step.

A batch is prepared (read, compared: no write) then committed (records, fingerprints), so that
the follower reads the next batch while this one is written. Each key is read in one atomic
``FOLLOW_READ`` call (its fingerprint, and members):

- **append window**: when every notification since the key was last reconciled was a ``zadd``
  and its fingerprint is stored, only the members at or above the stored newest score are read.
  If the size grew by exactly the number of new members in that window and the newest member
  read last time is still among them, they are all there (scores are the posts' timestamps: an
  existing member does not move), and their records are written. Anything else falls back to
- **comparison**: every member (one atomic read up to ``atomic_read_max``, ZSCAN beyond) against
  the records that list the account (``linked``: the posts index, filtered exactly). Members
  without their account in a record get it written; records listing the account for an id the
  set no longer holds lose it (``removals.unlink``: on one server atomically, refused when the
  set changed since, other than by appends; on a cluster in single-slot steps, the set read again
  after). A key that no longer exists is compared as an empty set.

Records are written by ``redis_client.records.posts.write_records`` (the dual write's script in
record-only mode), so a record is the same whoever writes it and rewriting one changes nothing.
Then the key's fingerprint is stored (compare-and-set). A key that changed under the batch, or
whose fingerprint another follower moved on, is handed back to be compared again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from ..core import keys
from ..core.connector import Connector
from ..core.drivers import SyncDriver
from ..core.errors import server_message
from ..core.protocol import Call, Pipeline, Script
from ..records import members
from ..records.bad import key_name
from ..records.posts import write_records
from . import linked, removals
from .fingerprint import Fingerprint, SetRead, parse_read, read_call, store_call
from .options import FollowOptions
from .pending import COMPARE, PostKey
from .report import Reporter
from .stats import Counts

log = logging.getLogger("redis_client.follow")

@dataclass
class _Plan:
    entry: PostKey
    username: str
    stored_raw: bytes | None
    stored: Fingerprint | None
    append: bool
    #: The state read (None: the key does not exist).
    fp: Fingerprint | None = None
    #: Every member (comparison), or the window's (append).
    raws: list[bytes] = field(default_factory=list)
    complete: bool = False
    to_write: list[Any] = field(default_factory=list)
    to_unlink: list[str] = field(default_factory=list)
    #: Handed back: read again with a comparison.
    retry: bool = False
    #: The key holds another type: no record is written or unlinked.
    wrong_type: bool = False


@dataclass
class Prepared:
    plans: list[_Plan]


@dataclass
class Outcome:
    counts: Counts = field(default_factory=Counts)
    retry: list[PostKey] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)


class PostSync:
    def __init__(self, connector: Connector, options: FollowOptions, reporter: Reporter) -> None:
        self.driver = SyncDriver(connector)
        self.client = connector.client()
        self.options = options
        self.reporter = reporter
        #: Accounts whose removals cannot be found through the index (warned once each).
        self._unqueryable: set[str] = set()

    def prepare(self, entries: Sequence[PostKey]) -> Prepared:
        """Read and compare (no write): what ``commit`` must write for each key. The follower
        prepares the next batch while the previous one is committed (never the same key)."""
        plans = self._plans(entries)
        if plans:
            self._first_read(plans)
            self._complete_reads(plans)
            self._compare([p for p in plans if not (p.retry or p.append or p.wrong_type)])
            for plan in plans:
                if plan.append and not plan.retry:
                    assert plan.stored is not None  # the newest member last time: in step already
                    top = plan.stored.top_sha
                    plan.raws = [r for r in plan.raws if hashlib.sha1(r).hexdigest() != top]
                    plan.to_write = self._parse(plan)
                plan.raws = []
        return Prepared(plans)

    def commit(self, prepared: Prepared) -> Outcome:
        """Write the records, take the account out of the others, store the fingerprints."""
        plans = prepared.plans
        out = Outcome()
        self._write(plans, out.counts)
        self._unlink(plans, out.counts)
        self._store(plans, out.counts)
        now = time.monotonic()
        for plan in plans:
            if plan.retry:
                out.counts.retried += 1
                out.retry.append(PostKey(plan.entry.zkey, {COMPARE}, plan.entry.first_seen))
            else:
                out.lags.append(now - plan.entry.first_seen)
                if plan.append:
                    out.counts.keys_appended += 1
                else:
                    out.counts.keys_compared += 1
        return out

    # --- reading ---

    def _plans(self, entries: Sequence[PostKey]) -> list[_Plan]:
        named: list[tuple[PostKey, str]] = []
        for entry in entries:
            username = keys.username_of(entry.zkey, keys.POSTED_TWEETS)
            if username is None:
                self.reporter.key(entry.zkey, "key name does not hold a usable UTF-8 username")
                continue
            named.append((entry, username))
        if not named:
            return []
        stored = self.client.hmget(keys.FOLLOW_FINGERPRINTS, [e.zkey for e, _ in named])
        plans = []
        for (entry, username), raw in zip(named, stored, strict=True):
            fp = Fingerprint.loads(raw)
            plans.append(_Plan(entry, username, raw, fp, append=entry.append_only and fp is not None))
        return plans

    def _first_read(self, plans: list[_Plan]) -> None:
        calls = []
        for plan in plans:
            if plan.append:
                assert plan.stored is not None
                calls.append(read_call(plan.entry.zkey, plan.stored.top_score, self.options.window_max))
            else:
                calls.append(read_call(plan.entry.zkey, "-inf", self.options.atomic_read_max))
        for plan, reply in zip(plans, self.driver.perform(Pipeline(calls)), strict=True):
            self._take_read(plan, reply)

    def _take_read(self, plan: _Plan, reply: Any) -> None:
        if isinstance(reply, redis.ResponseError):
            log.warning("cannot read %s: %s", key_name(plan.entry.zkey), server_message(reply))
            plan.retry = True
            return
        read: SetRead = parse_read(reply)
        if read.kind == "none":
            plan.fp, plan.raws, plan.complete, plan.append = None, [], True, False
            return
        if read.kind != "zset":
            self.reporter.key(plan.entry.zkey, f"posted_tweets key holds a {read.kind}, not a sorted set")
            plan.fp, plan.raws, plan.complete, plan.append = None, [], True, False
            plan.wrong_type = True  # its records are left as they are; its fingerprint forgotten
            return
        assert read.fingerprint is not None
        plan.fp, plan.raws = read.fingerprint, read.members
        if plan.append:
            stored = plan.stored
            assert stored is not None
            window = len(read.members)
            grew = read.fingerprint.card - stored.card
            if window < self.options.window_max and grew == window - stored.at_top and _holds(
                read.members, stored.top_sha
            ):
                plan.complete = True
                return
            plan.append = False  # not appends only (or too many): compare every member
            plan.complete = False
            plan.raws = []
            return
        plan.complete = len(read.members) == read.fingerprint.card

    def _complete_reads(self, plans: list[_Plan]) -> None:
        """Read whole the keys whose first read was not enough: atomically when small, else ZSCAN."""
        again = [p for p in plans if not (p.complete or p.retry)]
        small = [p for p in again if p.fp is not None and p.fp.card <= self.options.atomic_read_max]
        if small:
            calls = [read_call(p.entry.zkey, "-inf", self.options.atomic_read_max) for p in small]
            for plan, reply in zip(small, self.driver.perform(Pipeline(calls)), strict=True):
                self._take_read(plan, reply)
        for plan in again:
            if not (plan.complete or plan.retry):
                self._scan_members(plan)

    def _scan_members(self, plan: _Plan) -> None:
        """Every member with ZSCAN: a member present throughout is returned at least once (the
        fingerprint read before stands for the state compared)."""
        raws: list[bytes] = []
        cursor = 0
        try:
            while True:
                cursor, page = self.client.zscan(plan.entry.zkey, cursor, count=5 * self.options.scan_count)
                raws += [member for member, _ in page]
                if int(cursor) == 0:
                    break
        except redis.ResponseError as exc:  # its type changed meanwhile
            log.warning("cannot scan %s: %s", key_name(plan.entry.zkey), server_message(exc))
            plan.retry = True
            return
        plan.raws, plan.complete = list(dict.fromkeys(raws)), True

    # --- comparing ---

    def _parse(self, plan: _Plan) -> list[Any]:
        zkey, raws = plan.entry.zkey, plan.raws

        def bad(index: int, reason: str) -> None:
            self.reporter.member(zkey, reason, raws[index])

        return members.parse(raws, on_bad=bad)

    def _compare(self, plans: list[_Plan]) -> None:
        queries = [(p, linked.query_of(p.username)) for p in plans]
        searchable = [(p, q) for p, q in queries if q is not None]
        found = self.driver.run(linked.find([(p.username, q) for p, q in searchable]))
        linked_ids = {id(p): ids for (p, _), ids in zip(searchable, found.ids, strict=True)}
        for plan, _ in searchable:
            plan.retry |= linked_ids[id(plan)] is None
        if found.index_gone:  # once per batch, not once per key that met it
            log.warning("the posts index is gone (dropped, or an empty restart): creating it again")
            linked.ensure_index(self.driver, forget=True)
        for plan, q in queries:
            if plan.retry:
                continue
            posts = self._parse(plan)
            if q is None:
                plan.to_write = self._not_linked(plan, posts)
                if plan.username not in self._unqueryable:
                    self._unqueryable.add(plan.username)
                    log.warning(
                        "no exact index query exists for the account of %s (blank or control "
                        "characters): posts removed from it keep their records",
                        key_name(plan.entry.zkey),
                    )
                continue
            listed = linked_ids[id(plan)]
            assert listed is not None
            plan.to_write = [p for p in posts if p.id not in listed]
            held = {p.id for p in posts}
            # Records of ids held only by malformed members cannot exist: they were never valid.
            plan.to_unlink = sorted(listed - held)

    def _not_linked(self, plan: _Plan, posts: list[Any]) -> list[Any]:
        """The posts whose record does not list the account (asked record by record)."""
        account = json.dumps(plan.username)
        calls = [
            Call("execute_command", ("JSON.ARRINDEX", removals.record_key(p.id), "$.accounts", account))
            for p in posts
        ]
        out = []
        for post, reply in zip(posts, self.driver.perform(Pipeline(calls)), strict=True):
            if isinstance(reply, redis.ResponseError) or not reply or reply[0] is None or reply[0] < 0:
                out.append(post)
        return out

    # --- writing ---

    def _write(self, plans: list[_Plan], counts: Counts) -> None:
        batch = [
            (plan.entry.zkey, plan.username, chunk)
            for plan in plans
            if not plan.retry
            for chunk in _chunks(plan.to_write, self.options.write_chunk)
        ]
        if not batch:
            return
        written = self.driver.run(write_records(batch))
        counts.records_created += written.created
        counts.posts_written += sum(len(chunk) for _, _, chunk in batch)
        for zkey, post, reason in written.failed:
            counts.failed += 1
            self.reporter.member(zkey, reason, members.member_text(post))

    def _unlink(self, plans: list[_Plan], counts: Counts) -> None:
        todo = [p for p in plans if not p.retry and p.to_unlink]
        if not todo:
            return
        jobs = [removals.Unlink(p.entry.zkey, p.username, p.fp, p.to_unlink, p.stored_raw) for p in todo]
        for plan, done in zip(todo, self.driver.run(removals.unlink(jobs)), strict=True):
            if done.forgotten:
                plan.stored_raw = None  # what the fingerprint's compare-and-set now expects
            for message in done.errors or []:
                log.warning("cannot update records of %s: %s", key_name(plan.entry.zkey), message)
                counts.failed += 1
            plan.retry |= done.changed  # the set changed since it was read: compare it again
            counts.records_unlinked += done.unlinked
            counts.records_deleted += done.deleted

    def _store(self, plans: list[_Plan], counts: Counts) -> None:
        calls: list[tuple[_Plan, Script]] = []
        for plan in plans:
            if plan.retry:
                continue
            new = plan.fp.dumps().encode() if plan.fp is not None else None
            if new == plan.stored_raw:
                continue
            calls.append((plan, store_call(plan.entry.zkey, plan.stored_raw, plan.fp)))
        if not calls:
            return
        for (plan, _), reply in zip(calls, self.driver.perform(Pipeline([c for _, c in calls])), strict=True):
            if isinstance(reply, redis.ResponseError) or not int(reply):
                plan.retry = True  # another follower stored a newer state: compare again


def _holds(raws: list[bytes], sha: str) -> bool:
    """Whether one of ``raws`` is the member whose SHA-1 is ``sha`` (the newest one before)."""
    return any(hashlib.sha1(raw).hexdigest() == sha for raw in raws)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
