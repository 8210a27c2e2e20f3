"""``redis-client``: a thin command line over the package's functions.

Every error is one line, ``redis-client <command>: error: ...`` on stderr; exit code 2 for bad
settings or arguments and refusals (nothing was done), never a traceback (``-v`` logs it).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

import redis

from . import cli_common
from .cli_common import PROG, Parser, command_parser
from .core.errors import RedisClientError

log = logging.getLogger("redis_client.cli")


def _server(args: argparse.Namespace) -> int:
    from .serve import serve_forever

    lines: list[str] = []

    def announce(line: str) -> None:
        if not lines and not args.dir:
            line += "; temporary data, deleted on stop (--dir PATH keeps it)"
        lines.append(line)
        print(line, flush=True)

    return serve_forever(args.port, args.dir, announce, replicas=args.replicas,
                         sentinels=args.sentinels, cluster=args.cluster)


def _demo(args: argparse.Namespace) -> int:
    from . import demo

    return demo.main()


def build_parser() -> Parser:
    parser = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.set_defaults(prog=PROG)
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {cli_common.version()} ({cli_common.DISTRIBUTION})")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    server = command_parser(sub, "server", help="run the embedded Redis (search + JSON) in the foreground")
    server.add_argument("--port", type=cli_common.port, default=None, help="port (default: a free one)")
    server.add_argument("--dir", type=cli_common.data_dir, default=None,
                        help="data directory, kept (default: a temporary one, deleted on stop)")
    server.add_argument("--sentinels", type=cli_common.positive_int, default=0, metavar="N",
                        help="a master watched by N sentinels (with --replicas replicas)")
    server.add_argument("--cluster", type=cli_common.positive_int, default=0, metavar="N",
                        help="a Redis Cluster of N primaries (with --replicas replicas each)")
    server.add_argument("--replicas", type=cli_common.positive_int, default=0, metavar="N",
                        help="replicas of the master (--sentinels) or of each primary (--cluster)")
    server.set_defaults(func=_server)

    demo = command_parser(sub, "demo", help="run the README quickstart end to end")
    demo.set_defaults(func=_demo)

    from .migrate.cli import add_parser as add_migrate_parser

    add_migrate_parser(sub)
    from .follow.cli import add_parser as add_sync_parser

    add_sync_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:  # reported by the command they were given to, not by the top-level parser
        return cli_common.error(args.prog, f"unrecognized arguments: {' '.join(unknown)} "
                                f"(see {args.prog} --help)")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    command: str = args.prog
    try:
        return int(args.func(args) or 0)
    except (RedisClientError, redis.RedisError) as exc:
        return cli_common.error(command, exc)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - never a traceback on the terminal; -v logs it
        log.debug("%s failed", command, exc_info=True)
        return cli_common.error(command, f"unexpected {type(exc).__name__}: {exc}", 1)
