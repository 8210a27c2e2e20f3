"""Helpers of ``test_7_memory`` (issue 14): realistic posts, server memory, index variants.

Test code only: it measures what the project writes and never changes it. ``_harness`` is
imported read-only (packed-RESP seeding, command statistics, the results table).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from redis_client.core import keys

from . import _harness as h

# --------------------------------------------------------------------------------------------
# Realistic posts
# --------------------------------------------------------------------------------------------

SEED = 20240501
#: 24 English stop words (the most frequent words of real text), then made-up words.
STOP_WORDS = [
    "the",
    "to",
    "and",
    "a",
    "of",
    "in",
    "is",
    "for",
    "on",
    "it",
    "with",
    "this",
    "that",
    "you",
    "at",
    "be",
    "are",
    "was",
    "we",
    "not",
    "have",
    "but",
    "so",
    "my",
]
_ONSETS = [
    "b",
    "c",
    "d",
    "f",
    "g",
    "h",
    "j",
    "k",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "t",
    "v",
    "w",
    "z",
    "br",
    "cr",
    "dr",
    "fl",
    "gr",
    "pl",
    "st",
    "tr",
    "sh",
    "ch",
    "th",
    "sp",
]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "io", "ee"]
_CODAS = ["", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ck", "ng"]
_SUFFIXES = ["", "", "", "", "s", "ing", "ed", "er", "ly", "tion"]  # the stemmer has work to do
VOCABULARY_SIZE = 4000
#: Tweet-like 19-digit ids: increasing with time, with random low digits.
ID_BASE = 1_700_000_000_000_000_000
TS_BASE = 1_700_000_000


def vocabulary(size: int = VOCABULARY_SIZE, seed: int = SEED) -> list[str]:
    """``size`` distinct words, the most frequent first: stop words, then made-up words of 2-14
    letters, roughly shorter first (as in real text, short words are the frequent ones)."""
    rng = random.Random(seed)
    words: list[str] = []
    seen = set(STOP_WORDS)
    while len(words) < size - len(STOP_WORDS):
        syllables = rng.choice((1, 1, 2, 2, 2, 3, 3, 4))
        word = "".join(
            rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables)
        ) + rng.choice(_SUFFIXES)
        if 2 <= len(word) <= 14 and word not in seen:
            seen.add(word)
            words.append(word)
    words.sort(key=lambda w: len(w) + rng.gauss(0, 2.0))
    return STOP_WORDS + words


@dataclass
class Corpus:
    """``accounts`` accounts of ``per_account`` posts each, deterministic (one RNG per account).

    Post ``j`` of account ``a`` is global post ``i = j * accounts + a``: timestamp
    ``TS_BASE + i``, a 19-digit id increasing with ``i``. Text: 100-140 characters (a few
    below 100 when no word fits) of Zipf-distributed words (rank^-1) from ``vocabulary()``,
    half of them ending in punctuation. ``quoted_tweet_id`` is an id for 10% of posts (None
    90%), ``is_reply_to`` for 20% (None 80%), ``is_news_summary_tweet`` true for 5%.
    """

    accounts: int
    per_account: int = 1000
    prefix: str = "mem"
    seed: int = SEED
    _vocab: list[str] = field(default_factory=list, repr=False)
    _cum: list[float] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._vocab = vocabulary(seed=self.seed)
        self._cum = list(itertools.accumulate(1.0 / (r + 1) for r in range(len(self._vocab))))

    @property
    def total(self) -> int:
        return self.accounts * self.per_account

    def username(self, a: int) -> str:
        return f"{self.prefix}_user_{a:05d}"

    def _words(self, rng: random.Random) -> Iterator[str]:
        """An endless stream of Zipf-distributed words (drawn in bulk: bisect per word is the
        generator's main cost)."""
        while True:
            yield from rng.choices(self._vocab, cum_weights=self._cum, k=26 * self.per_account)

    def _text(self, rng: random.Random, words: Iterator[str]) -> str:
        target = rng.randint(100, 140)
        parts: list[str] = []
        length = -1
        misses = 0
        for word in words:
            if length + 1 + len(word) > target:
                misses += 1
                if length >= 100 or misses > 24:
                    break
                continue  # too long for what is left: the next word may fit
            parts.append(word)
            length += 1 + len(word)
        text = " ".join(parts)
        text = text[0].upper() + text[1:]
        if length < target and rng.random() < 0.5:
            text += rng.choice(".!?")
        return text

    def posts(self, a: int) -> list[dict[str, Any]]:
        """The 7 legacy fields of account ``a``'s posts, oldest first."""
        rng = random.Random(self.seed * 100_003 + a)
        words = self._words(random.Random(self.seed * 100_019 + a))
        user = self.username(a)
        out = []
        for j in range(self.per_account):
            i = j * self.accounts + a
            out.append(
                {
                    "id": str(ID_BASE + i * 1000 + rng.randrange(1000)),
                    "text": self._text(rng, words),
                    "sender_username": user,
                    "timestamp": TS_BASE + i,
                    "quoted_tweet_id": str(rng.randrange(10**18, 10**19)) if rng.random() < 0.10 else None,
                    "is_reply_to": str(rng.randrange(10**18, 10**19)) if rng.random() < 0.20 else None,
                    "is_news_summary_tweet": rng.random() < 0.05,
                }
            )
        return out

    def __iter__(self) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        for a in range(self.accounts):
            yield self.username(a), self.posts(a)

    def data(self) -> list[Account]:
        """Every account's legacy members, ids and timestamps, oldest first: the cache the
        benchmarks start from (about 400 B per post in this process)."""
        out = []
        for user, posts in self:
            out.append(
                Account(
                    user,
                    [h.member_of(f) for f in posts],
                    [f["id"] for f in posts],
                    [f["timestamp"] for f in posts],
                )
            )
        return out


@dataclass
class Account:
    user: str
    #: The legacy members (``json.dumps`` of the 7 fields, as ``add_user_post`` writes them).
    members: list[str]
    ids: list[str]
    timestamps: list[int]


def describe_corpus(sample: Sequence[dict[str, Any]]) -> str:
    texts = [p["text"] for p in sample]
    lengths = [len(t) for t in texts]
    words = [len(t.split()) for t in texts]
    members = [len(h.member_of(p)) for p in sample]
    return (
        f"text {min(lengths)}-{max(lengths)} chars (mean {statistics.mean(lengths):.1f}, "
        f"{statistics.mean(words):.1f} words), member JSON mean {statistics.mean(members):.0f} B, "
        f"quoted {sum(p['quoted_tweet_id'] is not None for p in sample) / len(sample):.0%}, "
        f"reply {sum(p['is_reply_to'] is not None for p in sample) / len(sample):.0%}, "
        f"news {sum(p['is_news_summary_tweet'] for p in sample) / len(sample):.0%}"
    )


# --------------------------------------------------------------------------------------------
# Seeding with packed RESP (untimed set-up; the server is the limit)
# --------------------------------------------------------------------------------------------


def legacy_commands(
    user: str, members: Sequence[str], timestamps: Sequence[int]
) -> Iterator[tuple[Any, ...]]:
    zkey = keys.posted_tweets(user)
    args: list[Any] = []
    for member, ts in zip(members, timestamps, strict=True):
        args += [ts, member]
        if len(args) >= 2000:
            yield ("ZADD", zkey, *args)
            args = []
    if args:
        yield ("ZADD", zkey, *args)


def twitter_data_command(user: str, n: int) -> tuple[Any, ...]:
    return (
        "HSET",
        keys.twitter_data(user),
        "access_token",
        "enc:not-a-real-token",
        "refresh_token",
        "enc:not-a-real-token",
        "expires_at",
        "1700000000",
        "name",
        user,
        "username",
        user,
        "id",
        str(10_000 + n),
    )


def record_document(member: str, user: str) -> str:
    """The record JSON ``add_user_post`` writes (``translate.document_from_member``)."""
    return member[:-1] + ', "accounts": ' + json.dumps([user]) + "}"


# --------------------------------------------------------------------------------------------
# Server memory
# --------------------------------------------------------------------------------------------


def as_text_dict(reply: Any) -> dict[str, Any]:
    """A RESP2 flat list or RESP3 map with bytes or str keys, as a dict with str keys."""
    if not isinstance(reply, dict):
        reply = dict(zip(reply[::2], reply[1::2], strict=False))
    return {(k.decode() if isinstance(k, bytes) else str(k)): v for k, v in reply.items()}


def _num(value: Any) -> float:
    if isinstance(value, bytes):
        value = value.decode()
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def search_total(reply: Any) -> int:
    """``total_results`` of an FT.SEARCH reply, RESP3 (map) or RESP2 (list)."""
    if isinstance(reply, dict):
        return int(as_text_dict(reply)["total_results"])
    return int(reply[0])


def search_ids(reply: Any) -> list[str]:
    """The keys of an FT.SEARCH ... NOCONTENT reply, RESP3 or RESP2."""
    if isinstance(reply, dict):
        ids = [as_text_dict(res)["id"] for res in as_text_dict(reply)["results"]]
    else:
        ids = list(reply[1:])
    return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]


def ft_info(r: redis.Redis, index: str) -> dict[str, Any]:
    return as_text_dict(r.execute_command("FT.INFO", index))


def indexes(r: redis.Redis) -> list[str]:
    return [n.decode() if isinstance(n, bytes) else str(n) for n in r.execute_command("FT._LIST")]


def wait_indexed(r: redis.Redis, timeout: float = 600.0) -> None:
    """Until every index has finished its background scan (``indexing`` 0), then a short pause
    (the figure research found stable this way, to +-0.1 B/post)."""
    deadline = time.monotonic() + timeout
    for name in indexes(r):
        while time.monotonic() < deadline:
            info = ft_info(r, name)
            if int(_num(info.get("indexing", 0))) == 0 and _num(info.get("percent_indexed", 1)) >= 1:
                break
            time.sleep(0.05)
    time.sleep(0.3)


def used_memory(r: redis.Redis) -> int:
    return int(r.info("memory")["used_memory"])


def settled_memory(r: redis.Redis) -> int:
    wait_indexed(r)
    return used_memory(r)


#: FT.INFO memory fields (MB, except the counters), reported per post.
FT_MEMORY_FIELDS = (
    "inverted_sz_mb",
    "offset_vectors_sz_mb",
    "doc_table_size_mb",
    "sortable_values_size_mb",
    "key_table_size_mb",
    "tag_overhead_sz_mb",
    "text_overhead_sz_mb",
    "total_index_memory_sz_mb",
)


def ft_memory_per_post(r: redis.Redis, index: str, n: int) -> dict[str, float]:
    info = ft_info(r, index)
    out = {f: _num(info.get(f)) * 2**20 / n for f in FT_MEMORY_FIELDS}
    out["num_terms"] = _num(info.get("num_terms"))
    out["num_records"] = _num(info.get("num_records"))
    out["num_docs"] = _num(info.get("num_docs"))
    return out


def memory_usage_avg(r: redis.Redis, sample_keys: Sequence[str | bytes]) -> float:
    """Mean ``MEMORY USAGE key SAMPLES 0`` (what the keyspace says one record costs)."""
    pipe = r.pipeline(transaction=False)
    for k in sample_keys:
        pipe.execute_command("MEMORY", "USAGE", k, "SAMPLES", "0")
    values = [int(v) for v in pipe.execute() if v is not None]
    return statistics.mean(values) if values else float("nan")


def flush(r: redis.Redis) -> None:
    """Empty keyspace, no index left (FLUSHALL drops the indexes' documents, not the indexes)."""
    for name in indexes(r):
        r.execute_command("FT.DROPINDEX", name)
    r.flushall(asynchronous=False)


# --------------------------------------------------------------------------------------------
# Index schemas
# --------------------------------------------------------------------------------------------

#: The plain baseline of the issue: the 7 fields as written, default TAG options; TAG sender,
#: NUMERIC SORTABLE timestamp, TEXT text, TAG quoted_tweet_id and is_reply_to.
PLAIN_PREFIX = "plain:post:"
PLAIN_INDEX = "plain:post:index"


def plain_schema(prefix: str = PLAIN_PREFIX, text: bool = True) -> list[str]:
    args = ["ON", "JSON", "PREFIX", "1", prefix, "SCHEMA"]
    args += ["$.sender_username", "AS", "sender_username", "TAG"]
    args += ["$.timestamp", "AS", "timestamp", "NUMERIC", "SORTABLE"]
    if text:
        args += ["$.text", "AS", "text", "TEXT"]
    args += ["$.quoted_tweet_id", "AS", "quoted_tweet_id", "TAG"]
    args += ["$.is_reply_to", "AS", "is_reply_to", "TAG"]
    return args


def schema_fields(args: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    """FT.CREATE arguments split into (everything up to SCHEMA, one list per field)."""
    k = list(args).index("SCHEMA")
    head, rest = list(args[: k + 1]), list(args[k + 1 :])
    fields: list[list[str]] = []
    for arg in rest:
        if arg.startswith("$"):
            fields.append([arg])
        else:
            fields[-1].append(arg)
    return head, fields


def alias_of(field_args: Sequence[str]) -> str:
    return field_args[list(field_args).index("AS") + 1]


def without_field(args: Sequence[str], alias: str) -> list[str]:
    head, fields = schema_fields(args)
    kept = [f for f in fields if alias_of(f) != alias]
    assert len(kept) == len(fields) - 1, f"no field {alias} in {args}"
    return head + [a for f in kept for a in f]


def replace_field(args: Sequence[str], alias: str, new: Sequence[str]) -> list[str]:
    head, fields = schema_fields(args)
    out = [list(new) if alias_of(f) == alias else f for f in fields]
    return head + [a for f in out for a in f]


def with_options(args: Sequence[str], *options: str) -> list[str]:
    head, fields = schema_fields(args)
    k = head.index("SCHEMA")
    return head[:k] + [o for o in options if o not in head] + head[k:] + [a for f in fields for a in f]


# --------------------------------------------------------------------------------------------
# The migration as a child process: ``redis-client migrate run`` and its own peak RSS
# --------------------------------------------------------------------------------------------

_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from redis_client.cli import main
t1 = time.perf_counter()
code = main(sys.argv[1:])
t2 = time.perf_counter()
with open("/proc/self/status") as status:   # VmHWM: this process's own peak (reset by exec)
    hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print("BENCH-RESULT " + json.dumps({"code": code, "import_s": t1 - t0, "run_s": t2 - t1, "vmhwm_kb": hwm}))
"""


def migrate_in_child(
    url: str, *args: str, env: dict[str, str] | None = None, timeout: float = 3600
) -> dict[str, Any]:
    """``redis-client migrate run`` (the CLI's ``main``) in a fresh interpreter; its exit code,
    the run's seconds (without interpreter start and imports), wall seconds and VmHWM."""
    full_env = dict(os.environ, REDIS_URL=url, **(env or {}))
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, "migrate", "run", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH-RESULT ")]
    assert proc.returncode == 0 and lines, (proc.stdout[-3000:], proc.stderr[-3000:])
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("BENCH-RESULT "))
    assert result["code"] == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    result["wall_s"] = wall
    result["stdout"] = proc.stdout
    return result


# --------------------------------------------------------------------------------------------
# Text tables
# --------------------------------------------------------------------------------------------


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], left: Sequence[int] = (0,)) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for k, r in enumerate(cells):
        lines.append(
            "  ".join(
                c.ljust(w) if i in left else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def loadavg() -> str:
    return h.loadavg()


# --------------------------------------------------------------------------------------------
# Fresh servers and measurement
# --------------------------------------------------------------------------------------------


class FreshServer:
    """An embedded Redis (search + JSON, AOF and RDB off, as the bench server) started for one
    measurement: allocator pools RediSearch and RedisJSON keep after a FLUSHALL make a second
    load on the same server look ~50-70 B/post cheaper, so every memory figure comes from a
    server that held nothing before."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        from redis_client.embedded import EmbeddedRedis

        self.server = EmbeddedRedis(data_dir=data_dir, extra_args=["--appendonly", "no", "--save", ""])

    def __enter__(self) -> FreshServer:
        import psutil

        self.server.start()
        self.url = self.server.url
        self.r = redis.Redis.from_url(self.url)
        self.proc = psutil.Process(self.server.pid)
        return self

    def __exit__(self, *exc: object) -> None:
        self.r.close()
        self.server.stop()

    def cpu(self) -> float:
        t = self.proc.cpu_times()
        return float(t.user + t.system)


@dataclass
class Meter:
    """Wall and client CPU seconds of the timed blocks (``with meter:``), added up."""

    wall: float = 0.0
    cpu: float = 0.0
    #: Server CPU seconds, when the caller measures them.
    server: float = 0.0

    def __enter__(self) -> Meter:
        self._c0 = time.process_time()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._t0
        self.cpu += time.process_time() - self._c0


@dataclass
class Run:
    """One variant's run: time, CPU, server memory and command statistics, per post."""

    name: str
    posts: int
    wall: float = float("nan")
    client_cpu: float = float("nan")
    server_cpu: float = float("nan")
    mem_bytes: float = float("nan")
    stats: dict[str, tuple[int, int]] = field(default_factory=dict)
    ft: dict[str, float] = field(default_factory=dict)
    memory_usage: float = float("nan")
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.posts / self.wall

    @property
    def bpp(self) -> float:
        return self.mem_bytes / self.posts

    def us(self, seconds: float) -> float:
        return seconds / self.posts * 1e6

    def usec_per_call(self, command: str) -> float:
        calls, usec = self.stats.get(command, (0, 0))
        return usec / calls if calls else float("nan")

    def usec_per_post(self, command: str) -> float:
        return self.stats.get(command, (0, 0))[1] / self.posts


def stats_note(
    stats: dict[str, Any], posts: int, names: Sequence[str] = ("evalsha", "exec", "json.set", "zadd", "type")
) -> str:
    """Server time per post of each command (``INFO commandstats``), and per call for those
    called once per post or more. A script's or EXEC's time includes the commands it ran."""
    parts = []
    for name in names:
        calls, usec = stats.get(name, (0, 0))
        if calls:
            per_call = f" ({usec / calls:.1f} us/call)" if calls >= posts else f" ({calls} calls)"
            parts.append(f"{name} {usec / posts:.1f} us/post{per_call}")
    return ", ".join(parts)


def commandstats_note(run: Run) -> str:
    return stats_note(run.stats, run.posts)
