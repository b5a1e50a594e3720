"""The progress bar of every long command (run, sweep, compare, report, mc): one line on stderr
with an ETA, shown on a terminal only; silent when stderr is a pipe or a file (and with
``--no-progress``), so output stays pipe-safe.  No dependency: the core install does not grow.

It is the progress object the engine and the studies accept: ``start(total, done, unit)``,
``update(k)``, ``status(text)`` (what runs before the first unit, e.g. mc's nominal run) and
``close()``.
"""
from __future__ import annotations

import math
import sys
import time

#: seconds before an ETA is shown (the first units are often slower or faster than the rest)
ETA_AFTER_S = 3.0


class ProgressBar:
    """A one-line progress bar with ETA on a terminal (stderr); silent otherwise."""

    def __init__(self, enabled: bool | None = None, stream=None, label: str = "mc"):
        self.stream = stream or sys.stderr
        self.label = label
        self.enabled = (hasattr(self.stream, "isatty") and self.stream.isatty()) if enabled is None else enabled
        self.shown = False
        self.width = 0
        self.start(0)

    def start(self, total: int, done: int = 0, unit: str = "samples") -> None:
        self.unit = unit
        self.total, self.start_done, self.done = total, done, done
        self.t0 = self.last = time.monotonic()
        self.rate = None          # smoothed units per second
        self._mark = (self.t0, done)

    def status(self, text: str) -> None:
        """Show what runs before the first unit (e.g. ``mc: nominal run and 3 input probes``)."""
        if self.enabled:
            self._write(f"{self.label}: {text} ...")

    def update(self, k: int) -> None:
        self.done += k
        now = time.monotonic()
        if not self.enabled or (now - self.last <= 0.1 and self.done < self.total):
            return
        self.last = now
        t_mark, d_mark = self._mark
        if now - t_mark >= 1.0:       # smooth the rate over windows of a second or more
            window = (self.done - d_mark) / (now - t_mark)
            self.rate = window if self.rate is None else 0.3 * window + 0.7 * self.rate
            self._mark = (now, self.done)
        frac = self.done / self.total if self.total else 1.0
        if self.done >= self.total:
            eta = "ETA 0 s"
        elif now - self.t0 < ETA_AFTER_S or not self.rate:
            eta = "ETA estimating"
        else:
            eta = f"ETA {duration((self.total - self.done) / self.rate)}"
        bar = "#" * int(frac * 30)
        self._write(f"{self.label} [{bar:<30}] {frac:4.0%} {self.done:,}/{self.total:,} {self.unit}, "
                    f"{duration(now - self.t0)}, {eta}")

    def _write(self, text: str) -> None:
        pad = max(0, self.width - len(text))
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self.width = len(text)
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False
            self.width = 0


def duration(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.0f} min" if s < 7200 else f"{s / 3600:.1f} h"
