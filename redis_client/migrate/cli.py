"""``redis-client migrate run | resync | status | verify | rollback | inventory``.

Maps arguments to the functions of ``commands`` and their results to output and exit codes:
0 success; 1 a migration failed (it stays pending and resumes) or ``verify`` found differences;
2 refused, nothing done (no JSON/search module, unreachable server, bad settings or arguments,
an unknown migration ID, a rollback not confirmed). ``run --resync`` is an alias of ``resync``.
Errors are one line: ``redis-client migrate <command>: error: ...``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from .. import cli_common
from ..cli_common import command_parser
from ..core.errors import MigrationError, MigrationRefusedError
from ..core.settings import load_settings
from . import commands, discovery
from .context import DEFAULT_BATCH_SIZE
from .progress import terminal_progress
from .report import StepStats

#: Skipped entries printed after a run (all of them: ``migrate status --report ID``).
SHOWN_ENTRIES = 20


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = command_parser(
        sub, "migrate", help="migrate legacy keys into model records",
        description="Migrate the legacy keys into Post / TwitterAccount records (the data "
        "migrations of the `redis_client.migrations` package). Legacy keys are only read.",
    )
    msub = parser.add_subparsers(dest="migrate_command", required=True, metavar="COMMAND")

    run = command_parser(msub, "run", help="apply the pending migrations (resumes an interrupted one)")
    run.add_argument("--dry-run", action="store_true", help="count what would be written; write nothing")
    run.add_argument("--resync", action="store_true", help="alias of `migrate resync`")
    _add_run_options(run)
    run.set_defaults(func=_guarded(_run, _run_check))

    resync = command_parser(
        msub, "resync", help="after the migration: create the records of legacy keys written since "
        "(by other services); removes nothing",
    )
    _add_run_options(resync)
    resync.set_defaults(func=_guarded(_resync))

    status = command_parser(msub, "status", help="applied / pending / interrupted migrations")
    status.add_argument("--report", metavar="ID", help="print every bad entry skipped by migration ID")
    status.set_defaults(func=_guarded(_status))

    verify = command_parser(
        msub, "verify", help="compare legacy keys and records per account (exit 1 on differences)"
    )
    verify.add_argument("--limit", type=cli_common.positive_int, default=50,
                        help="accounts listed (default 50)")
    verify.set_defaults(func=_guarded(_verify))

    rollback = command_parser(
        msub, "rollback", help="delete the records and state of one migration, or of all (newest "
        "first); asks first, or needs --yes without a terminal (exit 2 when not confirmed)",
    )
    rollback.add_argument("migration_id", nargs="?", metavar="ID", help="e.g. 0002_posts (default: all)")
    rollback.add_argument("-y", "--yes", action="store_true",
                          help="delete without asking (needed when stdin is not a terminal)")
    rollback.set_defaults(func=_guarded(_rollback, _can_confirm))

    inventory = command_parser(msub, "inventory", help="count keys per documented pattern and type")
    inventory.add_argument("--limit", type=cli_common.positive_int, default=50,
                           help="unmatched keys listed (default 50)")
    inventory.set_defaults(func=_guarded(_inventory))
    return parser


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=cli_common.positive_int, default=DEFAULT_BATCH_SIZE,
                        help=f"records per pipelined batch (default {DEFAULT_BATCH_SIZE})")
    parser.add_argument("--ray", action="store_true",
                        help="partition the posts over Ray workers (needs the ray extra)")
    parser.add_argument("--workers", type=cli_common.positive_int, default=2,
                        help="Ray workers with --ray (default 2)")


Command = Callable[[argparse.Namespace], int]


def _guarded(command: Command, check: Command | None = None) -> Command:
    """``command`` after ``check`` (refusals that need no server) and the startup wait, with the
    commands' errors as exit codes: refused 2, failed 1 (one line each)."""

    def run(args: argparse.Namespace) -> int:
        try:
            refused = check(args) if check is not None else 0
            if refused:
                return refused
            cli_common.wait_for_server(load_settings(), cli_common.to_stderr)
            return command(args)
        except MigrationRefusedError as exc:
            return cli_common.error(args.prog, exc)
        except MigrationError as exc:
            return cli_common.error(
                args.prog, f"{cli_common.one_line(exc)}; what was written stays: "
                "`redis-client migrate run` resumes from the checkpoints", 1)

    return run


def _run_check(args: argparse.Namespace) -> int:
    if args.resync and args.dry_run:
        return cli_common.error(args.prog, "--resync and --dry-run go separately: "
                                "`migrate verify` shows what a resync would add")
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.resync:
        return _resync(args)
    options: dict[str, Any] = {
        "batch_size": args.batch_size, "dry_run": args.dry_run, "progress": terminal_progress,
    }
    result = commands.run_on_ray(workers=args.workers, **options) if args.ray else commands.run(**options)
    if not result.pending:
        print("No pending migrations: nothing to do.")
        return 0
    mode = "dry run of" if args.dry_run else "running"
    print(f"{mode} {len(result.pending)} pending migration(s): {', '.join(result.pending)}")
    for stats in result.steps:
        _print_stats(stats)
    if not result.ok:
        return cli_common.error(args.prog, f"{result.failed} FAILED: {result.error}; it stays pending: "
                                "`redis-client migrate run` resumes it from its checkpoint", 1)
    if args.dry_run:
        print("Dry run: nothing was written.")
    else:
        print(f"applied: {', '.join(result.applied)}")
    return 0


def _resync(args: argparse.Namespace) -> int:
    result = commands.resync(
        batch_size=args.batch_size, progress=terminal_progress,
        workers=args.workers if args.ray else None,
    )
    for stats in result.steps:
        _print_stats(stats)
    if not result.ok:
        return cli_common.error(args.prog, f"{result.failed} FAILED: {result.error}; "
                                "`redis-client migrate resync` resumes it", 1)
    print("resync done: `redis-client migrate verify` checks the result")
    return 0


def _print_stats(stats: StepStats) -> None:
    would = "would be " if stats.dry_run else ""
    if stats.already_done:
        print(f"{stats.migration_id}: already complete (from its checkpoint)")
    elif stats.unit == "indexes":
        print(f"{stats.migration_id}: {stats.items} indexes, {stats.created} {would}created or "
              f"rebuilt ({stats.seconds:.2f}s)")
    elif stats.unit == "posts" and stats.dry_run:
        print(f"{stats.migration_id}: {stats.items} posts in {stats.keys} keys: about "
              f"{stats.created} records would be created (ids shared by accounts may count "
              f"twice); {stats.skipped} bad entries would be skipped; {stats.seconds:.2f}s")
    elif stats.unit == "posts":
        print(f"{stats.migration_id}: {stats.items} posts in {stats.keys} keys: {stats.created} "
              f"records created, {stats.unchanged} already present (account added if "
              f"missing); {stats.skipped} bad entries skipped; {stats.seconds:.2f}s, "
              f"{stats.per_second:.0f} posts/s")
    else:
        print(f"{stats.migration_id}: {stats.items} {stats.unit}: {stats.created} {would}created, "
              f"{stats.updated} {would}refreshed, {stats.unchanged} unchanged; {stats.skipped} "
              f"bad entries skipped; {stats.seconds:.2f}s")
    for note in stats.notes:
        print(f"  {note}")
    if stats.reasons:
        print("  skipped, by reason:")
        for reason, n in stats.reasons.most_common():
            print(f"    {n:8d}  {_printable(reason)}")
        shown = stats.sample[:SHOWN_ENTRIES]
        print(f"  skipped entries (first {len(shown)}; all: redis-client migrate status "
              f"--report {stats.migration_id}):")
        for entry in shown:
            line = f"    {_printable(entry.key)}: {_printable(entry.reason)}"
            if entry.preview is not None:
                line += f"  [{_printable(entry.preview)}]"
            print(line)


def _status(args: argparse.Namespace) -> int:
    if args.report:
        n = 0
        for entry in commands.report(args.report):
            n += 1
            preview = f"\t{_printable(entry.preview)}" if entry.preview is not None else ""
            print(f"{_printable(entry.key)}\t{_printable(entry.reason)}{preview}")
        print(f"{n} skipped entries for {args.report}", file=sys.stderr)
        return 0
    for info in commands.status():
        if info.applied:
            state = "applied"
        elif info.started:
            done = info.counters.get("items", 0)
            state = f"pending, interrupted ({done} done; `migrate run` resumes)"
        else:
            state = "pending"
        print(f"{info.migration_id:16} {state:12}  {info.description}")
        if info.reported:
            print(f"{'':16} {info.reported} bad entries skipped "
                  f"(redis-client migrate status --report {info.migration_id})")
    return 0


def _verify(args: argparse.Namespace) -> int:
    result = commands.verify()
    print(f"posts: {result.posts} valid in {result.post_keys} keys ({result.bad_members} bad "
          f"members not compared): {result.records_missing} without a Post record, "
          f"{result.unlinked} whose record does not list the account")
    print(f"accounts: {result.accounts} valid ({result.accounts_bad} bad not compared): "
          f"{result.accounts_missing} without a TwitterAccount record, {result.accounts_stale} "
          "stale (warning: legacy changed since; `migrate resync` refreshes them)")
    diffs = sorted(result.diffs.values(), key=lambda d: (not d.failing, d.username))
    if diffs:
        print("differences:")
    for diff in diffs[: args.limit]:
        parts = []
        if diff.missing_records:
            parts.append(f"{diff.missing_records} of {diff.posts} posts without a record")
        if diff.unlinked:
            parts.append(f"{diff.unlinked} records not listing the account")
        if diff.sample_ids:
            parts.append("e.g. ids " + ", ".join(_printable(i) for i in diff.sample_ids))
        if diff.account_missing:
            parts.append("TwitterAccount record missing")
        if diff.stale_fields:
            parts.append("stale (warning): " + ", ".join(diff.stale_fields))
        print(f"  {_printable(diff.username)}: {'; '.join(parts)}")
    hidden = max(len(diffs) - args.limit, 0) + result.more_diffs
    if hidden:
        print(f"  ... and {hidden} more accounts")
    print("verify: OK" if result.ok else "verify: DIFFERENCES FOUND")
    return 0 if result.ok else 1


def _can_confirm(args: argparse.Namespace) -> int:
    """Refuse at once (2) an unknown ID, or a rollback nobody can confirm (no --yes, no terminal)."""
    if args.migration_id:
        discovery.find(discovery.load(discovery.PACKAGE), args.migration_id)
    if args.yes or cli_common.can_ask():
        return 0
    return cli_common.error(args.prog, "rollback deletes records: pass --yes to confirm (stdin is "
                            "not a terminal); nothing was deleted")


def _rollback(args: argparse.Namespace) -> int:
    if not args.yes:
        targets = [s.migration_id for s in reversed(commands.status()) if (s.applied or s.started)
                   and args.migration_id in (None, s.migration_id)]
        if not targets:
            print("nothing to roll back")
            return 0
        if not cli_common.ask(f"Delete the records and state of {', '.join(targets)} (legacy keys "
                              "are kept; `migrate run` recreates them)?"):
            return cli_common.error(args.prog, "not confirmed; nothing was deleted")
    result = commands.rollback(args.migration_id)
    if result.rolled_back:
        print(f"rolled back: {', '.join(result.rolled_back)} ({result.deleted} keys deleted)")
    else:
        print("nothing to roll back")
    return 0


def _inventory(args: argparse.Namespace) -> int:
    result = commands.inventory()
    width = max([len(name) for name, _, _ in result.rows()] + [20])
    print(f"{'pattern':{width}}  {'type':10}  {'keys':>10}")
    for name, kind, n in result.rows():
        print(f"{_printable(name):{width}}  {kind:10}  {n:10d}")
    print(f"{'total':{width}}  {'':10}  {result.total:10d}")
    if result.unmatched_total:
        print(f"{result.unmatched_total} keys match no documented pattern and type:")
        for key, _kind, why in result.unmatched[: args.limit]:
            print(f"  {_printable(key)}  ({why})")
        if result.unmatched_total > args.limit:
            print(f"  ... and {result.unmatched_total - args.limit} more")
    else:
        print("every key matches a documented pattern and type")
    return 0


def _printable(text: str) -> str:
    """Control characters escaped: key names and member previews come from the data."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
