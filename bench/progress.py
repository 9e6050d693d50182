"""A one-line progress display on stderr for long phases; plain lines when not a terminal."""

from __future__ import annotations

import sys
import threading
import time


class Progress:
    """`with Progress("floor 1 conn", total) as bar: ... bar.advance()`."""

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = max(total, 1)
        self.done = 0
        self._tty = sys.stderr.isatty()
        self._started = 0.0
        self._drawn = 0.0
        self._lock = threading.Lock()

    def __enter__(self) -> Progress:
        self._started = time.monotonic()
        if not self._tty:
            print(f"  … {self.label} ({self.total})", file=sys.stderr, flush=True)
        return self

    def advance(self, count: int = 1) -> None:
        with self._lock:
            self.done += count
            now = time.monotonic()
            if self._tty and (now - self._drawn > 0.1 or self.done >= self.total):
                self._drawn = now
                self._draw(now)

    def _draw(self, now: float) -> None:
        width = 30
        filled = int(width * min(self.done, self.total) / self.total)
        bar = "#" * filled + "-" * (width - filled)
        elapsed = now - self._started
        sys.stderr.write(f"\r  {self.label:<34} [{bar}] {self.done}/{self.total} {elapsed:6.1f}s")
        sys.stderr.flush()

    def __exit__(self, *exc: object) -> None:
        elapsed = time.monotonic() - self._started
        if self._tty:
            self._draw(time.monotonic())
            sys.stderr.write("\n")
        else:
            print(f"    done in {elapsed:.1f}s", file=sys.stderr, flush=True)
