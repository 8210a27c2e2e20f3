"""Progress display: a tqdm bar on a terminal, plain periodic log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Protocol

log = logging.getLogger("redis_client.migrate")

#: Seconds between two progress log lines.
LOG_INTERVAL = 5.0


class Progress(Protocol):
    def update(self, n: int) -> None: ...

    def close(self) -> None: ...


class ProgressFactory(Protocol):
    """Opens the display of one step: ``(description, total or None, already done, unit)``."""

    def __call__(self, desc: str, total: int | None, initial: int, unit: str) -> Progress: ...


class LogProgress:
    """Logs ``desc: done/total unit (pct) rate`` at most every ``interval`` seconds, and at close."""

    def __init__(
        self, desc: str, total: int | None, initial: int, unit: str, interval: float = LOG_INTERVAL
    ) -> None:
        self.desc, self.total, self.unit, self.interval = desc, total, unit, interval
        self.done = initial
        self._initial = initial
        self._start = self._last = time.monotonic()

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._log(now)

    def close(self) -> None:
        self._log(time.monotonic())

    def _log(self, now: float) -> None:
        elapsed = now - self._start
        rate = (self.done - self._initial) / elapsed if elapsed > 0 else 0.0
        if self.total:
            pct = 100.0 * self.done / self.total
            log.info(
                "%s: %d/%d %s (%.0f%%), %.0f %s/s",
                self.desc, self.done, self.total, self.unit, pct, rate, self.unit,
            )
        else:
            log.info("%s: %d %s, %.0f %s/s", self.desc, self.done, self.unit, rate, self.unit)


class TqdmProgress:
    def __init__(self, desc: str, total: int | None, initial: int, unit: str) -> None:
        from tqdm import tqdm

        self._bar: Any = tqdm(
            desc=desc, total=total, initial=initial, unit=f" {unit}", file=sys.stderr,
            dynamic_ncols=True, leave=True,
        )

    def update(self, n: int) -> None:
        self._bar.update(n)

    def close(self) -> None:
        self._bar.close()


def log_progress(desc: str, total: int | None, initial: int, unit: str) -> Progress:
    """Log lines only (the default outside a terminal, and for library callers)."""
    return LogProgress(desc, total, initial, unit)


def terminal_progress(desc: str, total: int | None, initial: int, unit: str) -> Progress:
    """tqdm when stderr is a terminal, log lines otherwise."""
    if sys.stderr.isatty():
        return TqdmProgress(desc, total, initial, unit)
    return LogProgress(desc, total, initial, unit)
