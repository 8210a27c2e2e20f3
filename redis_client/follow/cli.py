"""``redis-client sync``: follow the other writers of the legacy keys (or ``--once``: reconcile).

Exit codes: 0 stopped by SIGTERM/SIGINT after finishing its batch, or ``--once`` found the
records in step (malformed members are skipped, not failures); 1 ``--once`` could not bring
every record in step (a record key of another type...); 2 refused (no JSON/search modules,
unreachable server, bad settings or arguments), in one line: ``redis-client sync: error: ...``.
"""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType
from typing import Any

from .. import cli_common
from ..cli_common import command_parser, seconds, seconds_or_zero
from ..core.settings import load_settings
from ..records.bad import BadEntry
from .options import FollowOptions

_DEFAULTS = FollowOptions()
#: Skipped entries printed after ``--once`` (all of them are in ``redis_client_om:follow:report``).
SHOWN_ENTRIES = 20


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = command_parser(
        sub, "sync", help="keep the model records in step with other writers of the legacy keys",
        description="Follow the legacy keys that other services write (posted_tweets, "
        "twitter_data, action times) and keep the Post / TwitterAccount records in step, "
        "until SIGTERM/SIGINT. Legacy keys are only read. Several may run: one follows, the "
        "others stand by.",
    )
    parser.add_argument("--once", action="store_true",
                        help="reconcile what changed and exit (0: in step, 1: not)")
    parser.add_argument("--full", action="store_true",
                        help="with --once: compare every member with the records, not only the "
                        "keys whose fingerprint changed")
    parser.add_argument("--interval", type=seconds, default=_DEFAULTS.interval,
                        help=f"seconds between fingerprint passes (default {_DEFAULTS.interval:g})")
    parser.add_argument("--fallback-interval", type=seconds, default=_DEFAULTS.fallback_interval,
                        help="seconds between passes when keyspace notifications cannot be used "
                        f"(default {_DEFAULTS.fallback_interval:g})")
    parser.add_argument("--full-interval", type=seconds_or_zero, default=_DEFAULTS.full_interval,
                        help="seconds between full passes, 0 for never "
                        f"(default {_DEFAULTS.full_interval:g})")
    parser.add_argument("--lease-timeout", type=seconds, default=_DEFAULTS.lease_timeout,
                        help="seconds before a standing-by follower replaces one that died "
                        f"(default {_DEFAULTS.lease_timeout:g})")
    parser.add_argument("--no-lease", action="store_true",
                        help="follow even while another follower does (writes are idempotent)")
    parser.add_argument("--no-configure", action="store_true",
                        help="never CONFIG SET notify-keyspace-events (poll when they are off)")
    parser.add_argument("--log-interval", type=seconds, default=_DEFAULTS.log_interval,
                        help=f"seconds between progress log lines (default {_DEFAULTS.log_interval:g})")
    parser.set_defaults(func=_sync)
    return parser


def _options(args: argparse.Namespace) -> FollowOptions:
    return FollowOptions(
        interval=args.interval,
        fallback_interval=args.fallback_interval,
        full_interval=args.full_interval or None,
        lease=not args.no_lease,
        lease_timeout=args.lease_timeout,
        log_interval=args.log_interval,
        configure_notifications=not args.no_configure,
    )


def _sync(args: argparse.Namespace) -> int:
    from .follower import Follower

    if args.full and not args.once:
        return cli_common.error(args.prog, "--full goes with --once (live: --full-interval)")
    settings = load_settings()
    cli_common.wait_for_server(settings, cli_common.to_stderr)
    follower = Follower(settings, _options(args))
    if args.once:
        return _once(follower, args.full)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
        follower.pending.wake()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        follower.run(stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _once(follower: Any, full: bool) -> int:
    result = follower.reconcile(full=full)
    c = result.counts
    print(f"post keys: {result.keys_seen} seen, {result.keys_marked} reconciled "
          f"({c.keys_compared} compared member by member)")
    print(f"posts: {c.posts_written} written, {c.records_created} records created, "
          f"{c.records_unlinked} unlinked, {c.records_deleted} deleted")
    print(f"accounts: {c.accounts_created} created, {c.accounts_updated} updated, "
          f"{c.accounts_removed} removed")
    if c.bad:
        print(f"skipped: {c.bad} malformed entries ({c.new_bad} new; all in "
              "redis_client_om:follow:report)")
        for entry in _new_entries(follower):
            line = f"  {_printable(entry.key)}: {_printable(entry.reason)}"
            if entry.preview is not None:
                line += f"  [{_printable(entry.preview)}]"
            print(line)
    if not result.in_step:
        print(f"NOT in step: {c.failed} posts, accounts or keys could not be brought in step")
        return 1
    print("in step")
    return 0


def _new_entries(follower: Any) -> list[BadEntry]:
    entries: list[BadEntry] = follower.reporter.recent[:SHOWN_ENTRIES]
    return entries


def _printable(text: str) -> str:
    """Control characters escaped: key names and member previews come from the data."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)
