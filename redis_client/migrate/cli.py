"""``redis-client migrate ...`` (placeholder until the migration engine lands)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser("migrate", help="migrate legacy keys into model records")
    return parser
