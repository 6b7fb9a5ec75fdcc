"""Log lines to stderr in batches, so a busy server does not pay a locked write per request.

With the plain ``logging.StreamHandler`` every access line is one ``write`` under the
handler's lock; the write releases the GIL, so on a loaded worker the request threads queue on
that lock and hand the GIL back and forth. That cost 0.5 to 0.7 ms of CPU per 1-row request
(``scripts/bench.py``), more than the rest of tinyserve's own work together. Here a line is
formatted by the thread that logs it and appended to a list; a writer thread writes what has
gathered every ``FLUSH_INTERVAL_S`` (0.1 s) in one call. A warning or an error is written at once,
after the lines before it, so problems are never late and the order is kept. Lines still
waiting are written when the process exits (``logging.shutdown``), before a fork, and by
``flush_logs()`` (the pre-fork supervisor calls it before a worker's ``os._exit``). Standard
library only.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import IO, List, Optional

FLUSH_INTERVAL_S = 0.1


class BatchedStreamHandler(logging.Handler):
    """A stream handler that writes INFO and DEBUG lines in batches, the rest at once."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        self.stream = stream
        self.waiting: List[str] = []
        self.write_lock = threading.Lock()  # one batch written at a time, in order
        self.wake = threading.Event()
        self.writer: Optional[threading.Thread] = None
        os.register_at_fork(before=self.flush, after_in_child=self._forget_writer)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
        except Exception:
            self.handleError(record)
            return
        self.waiting.append(line)  # list.append is atomic under the GIL: no lock needed
        if record.levelno >= logging.WARNING:
            self.flush()
            return
        if self.writer is None:
            self._start_writer()
        if not self.wake.is_set():
            self.wake.set()

    def flush(self) -> None:
        with self.write_lock:
            if not self.waiting:
                return
            lines, self.waiting = self.waiting, []
            try:
                self.stream.write("".join(lines))
                self.stream.flush()
            except (OSError, ValueError):  # stderr closed or gone: nothing to tell anyone
                pass

    def _start_writer(self) -> None:
        with self.write_lock:
            if self.writer is None:
                self.writer = threading.Thread(target=self._write_batches,
                                               name="tinyserve-log", daemon=True)
                self.writer.start()

    def _write_batches(self) -> None:
        while True:
            self.wake.wait()
            self.wake.clear()
            time.sleep(FLUSH_INTERVAL_S)  # let the batch gather
            self.flush()

    def _forget_writer(self) -> None:
        """In a forked child: the writer thread did not come along; start one when needed."""
        self.write_lock = threading.Lock()
        self.wake = threading.Event()
        self.writer = None

    def close(self) -> None:
        self.flush()
        super().close()


def flush_logs() -> None:
    """Write every line the root logger's handlers still hold (before ``os._exit``)."""
    for handler in logging.getLogger().handlers:
        handler.flush()
