"""A client that throws hostile requests at a live server, each on a new connection.

One ``selectors`` loop keeps up to ``concurrency`` connections busy. Every request ends in one
of three ways: a response arrived (its status and body are kept), the server closed the
connection without one, or neither happened in time, which is a hang. A request known to be
incomplete (cut short, or promising more body than it has) is followed by a half-close, as a
client that gives up would do; so is any request left unanswered for ``quiet_s`` seconds.
"""
from __future__ import annotations

import selectors
import socket
import time
from typing import Callable, Dict, List, Optional, Tuple

from tests.http_load import parse_response

Source = Callable[[], Tuple[bytes, str, bool]]  # -> (request bytes, kind, known incomplete)


class _Attempt:
    __slots__ = ("sock", "out", "kind", "buf", "opened_at", "sent_at", "half_closed",
                 "incomplete")

    def __init__(self, sock: socket.socket, data: bytes, kind: str, incomplete: bool) -> None:
        self.sock = sock
        self.out = data
        self.kind = kind
        self.buf = b""
        self.opened_at = time.monotonic()
        self.sent_at = 0.0  # when the last byte went out (0: still sending)
        self.half_closed = False
        self.incomplete = incomplete


class FuzzRun:
    def __init__(self, port: int, source: Source, total: int, concurrency: int,
                 deadline_s: float, quiet_s: float = 2.0, closing_s: float = 5.0) -> None:
        self.port = port
        self.source = source
        self.total = total
        self.concurrency = concurrency
        self.deadline_s = deadline_s
        self.quiet_s = quiet_s  # unanswered this long after sending: half-close
        self.closing_s = closing_s  # not closed this long after the half-close: a hang
        self.started = 0
        self.statuses: Dict[int, int] = {}
        self.closed_unanswered = 0
        self.refused = 0
        self.hangs: List[Tuple[str, bytes]] = []
        self.server_errors: List[Tuple[str, int, bytes]] = []  # every 5xx, with its body
        self.by_kind: Dict[str, int] = {}
        self.elapsed = 0.0
        self.timed_out = False
        self._selector = selectors.DefaultSelector()
        self._live: Dict[socket.socket, _Attempt] = {}

    @property
    def finished(self) -> int:
        return sum(self.statuses.values()) + self.closed_unanswered + len(self.hangs) \
            + self.refused

    def run(self) -> "FuzzRun":
        begun = time.monotonic()
        deadline = begun + self.deadline_s
        while self.started < self.total or self._live:
            while self.started < self.total and len(self._live) < self.concurrency:
                self._start()
            now = time.monotonic()
            if now > deadline:
                self.timed_out = True
                break
            for key, events in self._selector.select(timeout=0.05):
                attempt = key.data
                if events & selectors.EVENT_WRITE:
                    self._send(attempt)
                if events & selectors.EVENT_READ and attempt.sock in self._live:
                    self._read(attempt)
            now = time.monotonic()
            for attempt in list(self._live.values()):
                waited = now - (attempt.sent_at or attempt.opened_at)
                if attempt.sent_at and not attempt.half_closed and waited > self.quiet_s:
                    self._half_close(attempt)
                elif waited > self.quiet_s + self.closing_s:  # still sending, or not closed
                    self.hangs.append((attempt.kind, attempt.buf[:200]))
                    self._end(attempt)
        for attempt in list(self._live.values()):
            self._end(attempt)
        self._selector.close()
        self.elapsed = time.monotonic() - begun
        return self

    def _start(self) -> None:
        data, kind, incomplete = self.source()
        self.started += 1
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(5)
        try:
            sock.connect(("127.0.0.1", self.port))
        except OSError:
            sock.close()
            self.refused += 1
            return
        sock.setblocking(False)
        attempt = _Attempt(sock, data, kind, incomplete)
        self._live[sock] = attempt
        self._selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, attempt)

    def _send(self, attempt: _Attempt) -> None:
        try:
            sent = attempt.sock.send(attempt.out[:262144])
        except BlockingIOError:
            return
        except OSError:  # the server closed it while we sent (e.g. after a 431): read what came
            sent = len(attempt.out)
        attempt.out = attempt.out[sent:]
        if not attempt.out:
            attempt.sent_at = time.monotonic()
            self._selector.modify(attempt.sock, selectors.EVENT_READ, attempt)
            if attempt.incomplete:
                self._half_close(attempt)

    def _half_close(self, attempt: _Attempt) -> None:
        attempt.half_closed = True
        try:
            attempt.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _read(self, attempt: _Attempt) -> None:
        try:
            data = attempt.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            attempt.buf += data
            while attempt.buf.startswith(b"HTTP/1.1 100 "):  # Expect: 100-continue
                end = attempt.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                attempt.buf = attempt.buf[end + 4:]
            parsed = parse_response(attempt.buf) if attempt.buf else None
            if parsed is None:
                return
            self._answered(attempt, parsed[0], parsed[2])
        elif attempt.buf.startswith(b"HTTP/"):  # closed after an answer without a length
            status = int(attempt.buf[9:12])
            self._answered(attempt, status, attempt.buf.partition(b"\r\n\r\n")[2])
        else:
            self.closed_unanswered += 1
            self._end(attempt)

    def _answered(self, attempt: _Attempt, status: int, body: bytes) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status >= 500:
            head = attempt.buf.partition(b"\r\n\r\n")[0]
            self.server_errors.append((attempt.kind, status, head + b"\r\n\r\n" + body[:300]))
        self._end(attempt)

    def _end(self, attempt: _Attempt) -> None:
        self._live.pop(attempt.sock, None)
        try:
            self._selector.unregister(attempt.sock)
        except (KeyError, ValueError):
            pass
        attempt.sock.close()


def vm_rss_kib(pid: int) -> Optional[int]:
    """Resident memory of ``pid`` in KiB (``VmRSS`` in /proc/<pid>/status)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None
