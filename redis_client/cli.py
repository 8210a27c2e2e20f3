"""``redis-client``: a thin command line over the package's functions."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import redis

from .core.errors import RedisClientError


def _server(args: argparse.Namespace) -> int:
    from .embedded import serve_forever

    return serve_forever(args.port, args.dir, announce=lambda line: print(line, flush=True))


def _demo(args: argparse.Namespace) -> int:
    from . import demo

    return demo.main()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="redis-client", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", required=True)

    server = sub.add_parser("server", help="run the embedded Redis (search + JSON) in the foreground")
    server.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    server.add_argument("--dir", default=None, help="data directory (default: a temporary one)")
    server.set_defaults(func=_server)

    demo = sub.add_parser("demo", help="run the README quickstart end to end")
    demo.set_defaults(func=_demo)

    from .migrate.cli import add_parser as add_migrate_parser

    add_migrate_parser(sub)
    from .follow.cli import add_parser as add_sync_parser

    add_sync_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except (RedisClientError, redis.RedisError) as exc:
        print(f"redis-client: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
