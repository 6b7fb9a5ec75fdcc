"""A one-line progress display on stderr for ``tinyserve predict``, no third-party package.

Shown only when stderr is a terminal (and not ``--quiet``), so logs and pipes stay clean. The
line is redrawn at most every ``interval`` seconds: rows done, rows per second, and, when the
input's size is known, the share read and the time left.
"""
from __future__ import annotations

import time
from typing import Callable, Optional, TextIO


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    def __init__(self, stream: TextIO, enabled: bool, total_bytes: Optional[int] = None,
                 interval: float = 0.2, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.enabled = enabled
        self.total_bytes = total_bytes or None
        self.interval = interval
        self.clock = clock
        self.started = clock()
        self.last_drawn = float("-inf")
        self.width = 0

    def update(self, rows: int, bytes_read: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if not force and now - self.last_drawn < self.interval:
            return
        self.last_drawn = now
        self._draw(self.line(rows, bytes_read, now - self.started))

    def line(self, rows: int, bytes_read: int, elapsed: float) -> str:
        rate = rows / elapsed if elapsed > 0 else 0.0
        text = f"{rows:,} rows  {rate:,.0f} rows/s"
        if self.total_bytes:
            share = min(bytes_read / self.total_bytes, 1.0)
            text += f"  {share:.0%}"
            if 0 < share < 1 and elapsed > 0:
                text += f"  ETA {_clock(elapsed * (1 - share) / share)}"
        return text

    def finish(self, rows: int, bytes_read: int) -> None:
        if self.enabled:
            self.update(rows, bytes_read, force=True)
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, text: str) -> None:
        padding = " " * max(self.width - len(text), 0)  # wipe what a longer line left behind
        self.width = len(text)
        self.stream.write("\r" + text + padding)
        self.stream.flush()
