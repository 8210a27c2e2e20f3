"""What every ``redis-client`` command shares: one-line errors, argument types, the startup-wait
line, and the confirmation that commands deleting records ask for.

Errors look the same everywhere: one line ``redis-client <command>: error: <what>`` on stderr,
exit code 2 for bad settings or arguments (nothing was done), never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as distribution_version
from pathlib import Path
from typing import NoReturn

import redis

from .core import readiness
from .core.errors import ServerUnavailableError, SettingsError
from .core.settings import RedisSettings

log = logging.getLogger("redis_client.cli")

PROG = "redis-client"
#: The name on PyPI (``redis-client`` there is an unrelated project with the same import name).
DISTRIBUTION = "twitter-agent-redis"
#: Exit codes: bad settings or arguments, a refusal, an unconfirmed deletion (nothing done).
USAGE = 2


def version() -> str:
    try:
        return distribution_version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown (not installed)"


def one_line(message: object) -> str:
    """``message`` on one line: its first line, control characters escaped; the rest is logged."""
    first, _, rest = str(message).strip().partition("\n")
    if rest:
        log.debug("%s", rest)
        first += " (more with -v)"
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in first)


def error(command: str, message: object, code: int = USAGE) -> int:
    """Print ``<command>: error: <message>`` on stderr and return ``code``."""
    print(f"{command}: error: {one_line(message)}", file=sys.stderr, flush=True)
    return code


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (``<prog>: error: ...``, exit 2)."""

    def error(self, message: str) -> NoReturn:
        error(self.prog, f"{message} (see {self.prog} --help)")
        self.exit(USAGE)


def command_parser(sub: argparse._SubParsersAction[Parser], name: str, **kwargs: object) -> Parser:
    """A subcommand's parser; ``args.prog`` names the command in its error lines."""
    parser: Parser = sub.add_parser(name, **kwargs)  # type: ignore[arg-type]
    parser.set_defaults(prog=parser.prog)
    return parser


# --- argument types: each raises ArgumentTypeError, which the parser reports in one line ---


def _number(text: str, kind: Callable[[str], float]) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def port(text: str) -> int:
    value = int(_number(text, int))
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port (1-65535)")
    return value


def positive_int(text: str) -> int:
    value = int(_number(text, int))
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1")
    return value


def seconds(text: str) -> float:
    value = _number(text, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


def seconds_or_zero(text: str) -> float:
    value = _number(text, float)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is not 0 or a positive number of seconds")
    return value


def data_dir(text: str) -> str:
    """A directory the server can write: created if missing."""
    path = Path(text).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot create {text}: {exc.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text} is not writable")
    return str(path)


# --- the startup wait and confirmations ---


def wait_for_server(settings: RedisSettings, say: Callable[[str], None]) -> None:
    """Return once Redis answers. When it does not answer at once, ``say`` first what is waited
    for, where and how long; after ``REDIS_STARTUP_WAIT`` a :class:`ServerUnavailableError`."""
    try:
        try:
            readiness.ensure_ready(settings, 0)
        except ServerUnavailableError:
            say(f"waiting up to {settings.startup_wait:g}s (REDIS_STARTUP_WAIT) for Redis at "
                f"{settings.describe()} ...")
            readiness.ensure_ready(settings, settings.startup_wait)
    except redis.ResponseError as exc:
        if "DB index" not in str(exc):
            raise
        raise SettingsError(f"Redis at {settings.describe()}: {exc} (REDIS_DB, or the database in "
                            "REDIS_URL's path)") from None


def to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def can_ask() -> bool:
    """True when a person can answer: stdin is an open terminal."""
    stdin = sys.stdin
    return stdin is not None and not stdin.closed and stdin.isatty()


def ask(question: str) -> bool:
    """Ask ``question [y/N]`` on the terminal; True only for an explicit yes."""
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")
