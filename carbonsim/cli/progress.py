"""The progress bar of long commands: one line with an ETA on a terminal (stderr), silent otherwise."""
from __future__ import annotations

import math
import sys
import time


class ProgressBar:
    """A one-line progress bar with ETA on a terminal (stderr); silent otherwise."""

    def __init__(self, enabled: bool | None = None, stream=None, label: str = "mc"):
        self.stream = stream or sys.stderr
        self.label = label
        self.enabled = (hasattr(self.stream, "isatty") and self.stream.isatty()) if enabled is None else enabled
        self.start(0)

    def start(self, total: int, done: int = 0, unit: str = "samples") -> None:
        self.unit = unit
        self.total, self.start_done, self.done = total, done, done
        self.t0 = self.last = time.monotonic()
        self.shown = False

    def update(self, k: int) -> None:
        self.done += k
        now = time.monotonic()
        if self.enabled and (now - self.last > 0.1 or self.done >= self.total):
            self.last = now
            frac = self.done / self.total if self.total else 1.0
            rate = (self.done - self.start_done) / max(now - self.t0, 1e-9)
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            bar = "#" * int(frac * 30)
            self.stream.write(f"\r{self.label} [{bar:<30}] {frac:4.0%} {self.done:,}/{self.total:,} {self.unit}, "
                              f"{now - self.t0:.0f} s, ETA {duration(eta)}   ")
            self.stream.flush()
            self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def duration(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.0f} min" if s < 7200 else f"{s / 3600:.1f} h"


