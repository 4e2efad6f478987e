"""A dependency-free progress bar for long CLI commands (stderr, so stdout stays clean)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """Redraws in place on a terminal; on a pipe prints a line every 10%."""

    WIDTH = 30

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.started = time.perf_counter()
        self.last_decile = -1
        self.interactive = self.stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        fraction = done / total if total else 1.0
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        filled = int(self.WIDTH * fraction)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        line = f"{self.label} [{bar}] {fraction:4.0%} {done:,}/{total:,} ({done / elapsed:,.0f}/s)"
        if self.interactive:
            self.stream.write("\r" + line)
            if done >= total:
                self.stream.write("\n")
        elif int(fraction * 10) > self.last_decile:
            self.last_decile = int(fraction * 10)
            self.stream.write(line + "\n")
        self.stream.flush()
