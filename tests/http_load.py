"""A small HTTP/1.1 load client for the proof tests: keep-alive raw sockets, one thread.

One ``selectors`` loop drives every connection, so the client costs little CPU next to the
server on a 2-core machine (no GIL contention between client threads). Each request is
pre-built bytes with the exact answer it must get; every response is checked against its own
request, so an answer delivered on the wrong connection shows up as ``wrong``. Every way a
request can end is counted under one name (``OUTCOMES``) and the failures keep the connection
they happened on (its local port), so the fault tests can say which failures they allow.

Retry rule (RFC 9112 section 9.3.1): when a *reused* keep-alive connection is closed before any
byte of the response arrived, the server never took the request; it is sent again once on a
new connection. Nothing else is retried.
"""
from __future__ import annotations

import re
import selectors
import socket
import threading
import time
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

OK = "ok"
OUTCOMES = (
    OK,
    "wrong",  # a complete response whose status or body is not this request's answer
    "partial",  # the connection ended after some of the response arrived
    "idle_closed",  # a reused connection closed before any response byte (retried once)
    "fresh_closed",  # a new connection closed or reset before any response byte
    "refused",  # the connection could not be opened (ECONNREFUSED and friends)
    "timeout",  # no complete response within the per-request bound
)


class Planned(NamedTuple):
    """One request: the bytes to send and the status and body that must come back."""

    data: bytes
    status: int
    body: bytes


class Failure(NamedTuple):
    index: int
    outcome: str
    local_port: int  # of the connection it failed on (0 when it never connected)
    at: float  # time.monotonic() of the failure
    opened: float  # time.monotonic() when that connection was opened (0: never connected)


class _Conn:
    """One client connection slot; it reconnects after the server closes it."""

    __slots__ = ("slot", "sock", "local_port", "reused", "index", "out", "buf", "started",
                 "retried", "got_bytes", "stopped", "opened")

    def __init__(self, slot: int) -> None:
        self.slot = slot
        self.sock: Optional[socket.socket] = None
        self.local_port = 0
        self.reused = False  # at least one response was received on this socket
        self.index = -1
        self.out = b""
        self.buf = b""
        self.started = 0.0
        self.retried = False
        self.got_bytes = False
        self.stopped = False  # no more requests for this slot
        self.opened = 0.0  # time.monotonic() when the current socket was connected


class LoadRun:
    """``total`` planned requests over ``connections`` keep-alive connections.

    ``run()`` blocks until every request ended or ``deadline_s`` passed; ``completed`` can be
    read from another thread while it runs (e.g. to send a signal half-way through)."""

    def __init__(self, port: int, plan: Callable[[int], Planned], total: int, connections: int,
                 deadline_s: float, request_timeout_s: float = 30.0,
                 stop_on_refused: bool = False, retry_idle: bool = True) -> None:
        self.port = port
        self.plan = plan
        self.total = total
        self.connections = connections
        self.deadline_s = deadline_s
        self.request_timeout_s = request_timeout_s
        self.stop_on_refused = stop_on_refused  # a refused slot stops instead of retrying
        self.retry_idle = retry_idle  # resend once what a reused idle connection lost unread
        self.next_index = 0
        self.completed = 0  # requests that ended, any outcome
        self.counts: Dict[str, int] = {name: 0 for name in OUTCOMES}
        self.failures: List[Failure] = []
        self.latencies: List[float] = []  # seconds, of the ``ok`` requests
        self.elapsed = 0.0
        self.timed_out = False  # the run's deadline ended it
        self.ports_used: List[int] = []  # local port of every connection opened
        self.told_to_close = 0  # responses that said Connection: close
        self._selector = selectors.DefaultSelector()
        self._retry: List[int] = []

    # ---------------------------------------------------------------- driving the loop
    def run(self) -> "LoadRun":
        started = time.monotonic()
        deadline = started + self.deadline_s
        slots = [_Conn(slot) for slot in range(self.connections)]
        while self.completed < self.total:
            now = time.monotonic()
            if now > deadline:
                self.timed_out = True
                break
            for conn in slots:
                if conn.index < 0 and not conn.stopped:
                    self._next_request(conn)
                elif conn.index >= 0 and now - conn.started > self.request_timeout_s:
                    self._fail(conn, "timeout")
            if all(conn.stopped for conn in slots):
                break
            for key, events in self._selector.select(timeout=0.05):
                conn = key.data
                if events & selectors.EVENT_WRITE and conn.out:
                    self._send(conn)
                if events & selectors.EVENT_READ and conn.sock is not None:
                    self._receive(conn)
        for index in self._retry:  # every slot stopped at a refused connection first
            self._record(index, "refused", 0)
        self._retry = []
        for conn in slots:
            self._drop_socket(conn)
        self._selector.close()
        self.elapsed = time.monotonic() - started
        return self

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="load-run", daemon=True)
        thread.start()
        return thread

    # ---------------------------------------------------------------- one connection
    def _next_request(self, conn: _Conn) -> None:
        """Give an idle ``conn`` its next request (a retry first) and start sending it."""
        if self._retry:
            conn.index, conn.retried = self._retry.pop(), True
        elif self.next_index < self.total:
            conn.index, conn.retried = self.next_index, False
            self.next_index += 1
        else:
            conn.stopped = True
            self._drop_socket(conn)
            return
        if conn.sock is None and not self._connect(conn):
            self._record(conn.index, "refused", 0)
            conn.index = -1
            conn.stopped = self.stop_on_refused
            return
        conn.out = self.plan(conn.index).data
        conn.buf = b""
        conn.got_bytes = False
        conn.started = time.monotonic()
        self._send(conn)
        if conn.sock is not None and conn.out:
            self._selector.modify(conn.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)

    def _connect(self, conn: _Conn) -> bool:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.request_timeout_s)
        try:
            sock.connect(("127.0.0.1", self.port))
        except OSError:
            sock.close()
            return False
        sock.setblocking(False)
        conn.sock, conn.local_port, conn.opened = sock, sock.getsockname()[1], time.monotonic()
        conn.reused = False
        self.ports_used.append(conn.local_port)
        self._selector.register(sock, selectors.EVENT_READ, conn)
        return True

    def _send(self, conn: _Conn) -> None:
        try:
            sent = conn.sock.send(conn.out)
        except BlockingIOError:
            return
        except OSError:
            self._connection_lost(conn)
            return
        conn.out = conn.out[sent:]
        if not conn.out:
            self._selector.modify(conn.sock, selectors.EVENT_READ, conn)

    def _receive(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._connection_lost(conn)
            return
        if conn.index < 0:  # bytes nobody asked for: an answer to no request
            self.counts["wrong"] += 1
            self.failures.append(Failure(-1, "wrong", conn.local_port, time.monotonic(),
                                         conn.opened))
            self._drop_socket(conn)
            return
        conn.got_bytes = True
        conn.buf += data
        parsed = parse_response(conn.buf)
        if parsed is None:
            return
        status, close, body, rest = parsed
        planned = self.plan(conn.index)
        if rest or status != planned.status or body != planned.body:
            self._fail(conn, "wrong")
            return
        self.latencies.append(time.monotonic() - conn.started)
        self._record(conn.index, OK, conn.local_port)
        conn.reused = True
        conn.index = -1
        if close:
            self.told_to_close += 1
            self._drop_socket(conn)

    def _connection_lost(self, conn: _Conn) -> None:
        if conn.index < 0:
            self._drop_socket(conn)
        elif conn.got_bytes:
            self._fail(conn, "partial")
        elif conn.reused:
            self._fail(conn, "idle_closed")
        else:
            self._fail(conn, "fresh_closed")

    def _fail(self, conn: _Conn, outcome: str) -> None:
        """End ``conn``'s request with ``outcome``; an idle close is retried once."""
        index = conn.index
        retry = outcome == "idle_closed" and self.retry_idle and not conn.retried
        self._record(index, outcome, conn.local_port, final=not retry, opened=conn.opened)
        if retry:
            self._retry.append(index)
        self._drop_socket(conn)
        conn.index = -1

    def _record(self, index: int, outcome: str, local_port: int, final: bool = True,
                opened: float = 0.0) -> None:
        self.counts[outcome] += 1
        self.completed += final
        if outcome != OK:
            self.failures.append(Failure(index, outcome, local_port, time.monotonic(), opened))

    def _drop_socket(self, conn: _Conn) -> None:
        if conn.sock is not None:
            try:
                self._selector.unregister(conn.sock)
            except (KeyError, ValueError):
                pass
            conn.sock.close()
            conn.sock = None

    # ---------------------------------------------------------------- figures
    def percentile(self, fraction: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def summary(self) -> str:
        rate = self.counts[OK] / self.elapsed if self.elapsed else 0.0
        return (f"{self.counts[OK]} ok in {self.elapsed:.1f} s ({rate:.0f} req/s), "
                f"p50 {self.percentile(0.5) * 1000:.1f} ms, p99 {self.percentile(0.99) * 1000:.1f}"
                f" ms; outcomes {self.counts}")


def parse_response(buf: bytes) -> Optional[Tuple[int, bool, bytes, bytes]]:
    """(status, server will close, body, bytes after it) once ``buf`` holds a whole response
    with Content-Length; ``None`` while more is needed."""
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    head = buf[:head_end].lower()
    marker = head.find(b"\r\ncontent-length:")
    if marker < 0:
        return int(head[9:12]), True, b"", b""  # no length: treated as wrong by the status
    line_end = head.find(b"\r\n", marker + 2)
    length = int(head[marker + 17:line_end if line_end > 0 else len(head)])
    body_start = head_end + 4
    if len(buf) < body_start + length:
        return None
    close = b"\r\nconnection: close" in head
    return (int(head[9:12]), close, buf[body_start:body_start + length],
            buf[body_start + length:])



def post_request(body: bytes, request_id: str, content_type: str = "application/json") -> bytes:
    """The bytes of one keep-alive ``POST /invocations``."""
    return (f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f"X-Request-ID: {request_id}\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode("ascii") + body


def echo_plan(index: int) -> Planned:
    """Request ``index`` for the ``pyfunc_echo`` fixture, which answers with a description of
    what it received: a value only this request carries, so its answer is only its own."""
    value = 1_000_003 * index + 17
    if index % 2:
        body = b'{"inputs": [%d]}' % value
        answer = (b'{"predictions": {"input": {"type": "ndarray", "dtype": "int64", '
                  b'"shape": [1], "values": "[%d]"}, "params": null}}' % value)
    else:
        body = b'{"dataframe_split": {"columns": ["v"], "data": [[%d]]}}' % value
        answer = (b'{"predictions": {"input": {"type": "DataFrame", "columns": ["\'v\'"], '
                  b'"dtypes": ["int64"], "index": ["0"], "rows": [["%d"]]}, "params": null}}'
                  % value)
    return Planned(post_request(body, f"load-{index}"), 200, answer)


def read_response(sock: socket.socket) -> bytes:
    """One whole response with Content-Length from a blocking socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body
