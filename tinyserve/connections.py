"""Connection housekeeping for one waitress worker, run from tinyserve's own serving loop.

Two jobs waitress does not do for us:

- Slow clients. waitress closes a connection only after ``channel_timeout`` (120 s) without
  *any* traffic, so a client that trickles one header byte every few seconds holds its
  connection forever, and once ``connection_limit`` connections are open waitress stops
  accepting. ``ConnectionKeeper.sweep`` closes a connection whose request head (request line
  and headers) is not complete ``header_timeout`` seconds after its first byte arrived, or that
  sent nothing at all that long after it was opened (a partial head gets a ``408`` first).
  ``connection_limit`` raises the open-file limit so the higher waitress limit can be used.
- A clean drain. On SIGTERM, keep-alive connections are a race: a client may send its next
  request on an idle connection just as the worker closes it. ``ConnectionKeeper.start_drain``
  makes every answer from then on carry ``Connection: close`` and closes the connections that
  are idle: nothing received, queued, running or unsent, and no unread byte waiting in the
  socket. A connection that has started sending a request is served. Connections still in the
  listen backlog are accepted before the listening socket closes (``accept_waiting``), and a
  connection that has not sent anything yet gets ``FIRST_REQUEST_GRACE`` to start. A client
  whose idle keep-alive connection was closed before the server read a byte of its request can
  safely send it again on a new connection (RFC 9112 section 9.3.1).

The keeper reads waitress's channels (``server.active_channels``) without subclassing them, so
other layers (TLS) may use their own channel class. Standard library only.
"""
from __future__ import annotations

import logging
import socket
import time
from typing import Any, Dict, List, Tuple

logger = logging.getLogger("tinyserve")

DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_CONNECTION_LIMIT = 1000
RESERVED_FILES = 64  # descriptors kept for the model, logs, pipes and waitress itself
SWEEP_INTERVAL = 0.5  # seconds between header-deadline checks; the deadline's resolution
ACCEPT_BATCH = 64  # connections taken from the backlog per ready event of the listening socket
FIRST_REQUEST_GRACE = 1.0  # draining: seconds a just-opened connection has to start its request
REQUEST_TIMEOUT_RESPONSE = (b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                            b"Content-Type: text/plain\r\nContent-Length: 48\r\n\r\n"
                            b"The request headers were not received in time.\n")


def connection_limit(wanted: int = DEFAULT_CONNECTION_LIMIT) -> int:
    """How many connections this process can hold open: raises the soft open-file limit up
    to the hard one if ``wanted`` connections would not fit, and answers what fits."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + RESERVED_FILES
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - RESERVED_FILES))


def accept_in_batches(server: Any, batch: int = ACCEPT_BATCH) -> None:
    """Make each ready event on the listening socket accept up to ``batch`` connections.

    waitress accepts one connection per turn of its loop, and on a loaded worker that loop
    waits for the GIL behind the request threads, so a burst of new connections was taken in
    one by one: with 64 opened at once against 8 busy threads, the last one's first request
    waited 4 s (2 s in ``scripts/bench.py``'s p99 at 64 connections). asyncio (uvicorn)
    accepts in batches too. The connection limit still holds."""
    accept_one = server.handle_accept

    def handle_accept() -> None:
        for _ in range(batch):
            before = len(server.active_channels)
            if before >= server.adj.connection_limit:
                return
            accept_one()
            if len(server.active_channels) == before:  # nothing (more) waiting
                return

    server.handle_accept = handle_accept


def closing_task_class(base: type) -> type:
    """``base`` (a waitress task class) whose responses end the connection."""
    cached = _CLOSING_TASKS.get(base)
    if cached is None:
        class ClosingTask(base):  # type: ignore[misc, valid-type]
            def build_response_header(self) -> bytes:
                self.request.headers["CONNECTION"] = "close"
                return super().build_response_header()

        cached = _CLOSING_TASKS[base] = ClosingTask
    return cached


_CLOSING_TASKS: Dict[type, type] = {}


def has_unread_bytes(sock: Any) -> bool:
    """Bytes (or the peer's FIN) waiting in the socket that the server has not read yet."""
    pending = getattr(sock, "pending", None)  # TLS: bytes already decrypted
    if pending is not None and pending():
        return True
    try:  # the plain socket's recv, also under a TLS wrapper: peek at the raw bytes
        return bool(socket.socket.recv(sock, 1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except OSError:  # nothing there (EAGAIN), or the connection is gone
        return False


def is_idle(channel: Any) -> bool:
    """Nothing of a request received, queued, running or waiting to be sent, and not a new
    connection whose client may be about to send its first request."""
    if channel.request is not None or channel.requests or channel.total_outbufs_len:
        return False
    if (channel.last_activity == channel.creation_time
            and time.time() - channel.creation_time < FIRST_REQUEST_GRACE):
        return False
    return not has_unread_bytes(channel.socket)


class ConnectionKeeper:
    """Header deadline and drain for the channels of one waitress server."""

    def __init__(self, server: Any, header_timeout: float = DEFAULT_HEADER_TIMEOUT) -> None:
        self.server = server
        self.header_timeout = header_timeout if header_timeout and header_timeout > 0 else None
        self.draining = False
        self.next_sweep = 0.0
        # channel -> (its unfinished request parser, when that request was first seen)
        self.head_started: Dict[Any, Tuple[Any, float]] = {}

    def channels(self) -> List[Any]:
        return list(self.server.active_channels.values())

    def sweep(self) -> None:
        """Called after every turn of the serving loop; cheap between sweeps."""
        if self.draining:
            self.close_idle()
        now = time.monotonic()
        if self.header_timeout is None or now < self.next_sweep:
            return
        self.next_sweep = now + SWEEP_INTERVAL
        late_heads, silent = [], []
        started: Dict[Any, Tuple[Any, float]] = {}
        wall_now = time.time()
        for channel in self.channels():
            request = channel.request
            if request is not None and not request.headers_finished:
                seen = self.head_started.get(channel)
                begun = seen[1] if seen is not None and seen[0] is request else now
                if now - begun > self.header_timeout:
                    late_heads.append(channel)
                else:
                    started[channel] = (request, begun)
            elif (request is None and not channel.requests and not channel.total_outbufs_len
                  and channel.last_activity == channel.creation_time
                  and wall_now - channel.creation_time > self.header_timeout):
                silent.append(channel)  # opened, never sent a byte
        self.head_started = started
        for channel in late_heads:
            try:
                channel.socket.send(REQUEST_TIMEOUT_RESPONSE)
            except Exception:  # best effort: the connection is closed either way
                pass
            channel.handle_close()
        for channel in silent:
            channel.handle_close()
        if late_heads or silent:
            logger.info("Closed %d connection(s) whose request headers were not complete "
                        "within the header timeout of %s s", len(late_heads) + len(silent),
                        self.header_timeout)

    def accept_waiting(self, limit: int = 4096) -> int:
        """Accept the connections the kernel already completed (the listen backlog), so that
        closing the listening socket does not reset them; they get the first-request grace.

        The backlog is first cut to its minimum: a client connecting in the moment between the
        last accept and the close then has its SYN dropped, and its retry is refused, instead
        of being reset after it may have sent its request."""
        try:
            self.server.socket.listen(0)  # a new worker's waitress sets it back at its start
        except OSError:
            pass
        accepted = 0
        while accepted < limit:
            before = len(self.server.active_channels)
            self.server.handle_accept()  # nothing waiting: returns without a new channel
            if len(self.server.active_channels) == before:
                break
            accepted += 1
        return accepted

    def start_drain(self) -> None:
        """From now on every answer says ``Connection: close``; idle connections are closed."""
        self.draining = True
        for channel in self.channels():
            channel.task_class = closing_task_class(channel.task_class)
            for request in list(channel.requests):  # running or queued already
                request.headers["CONNECTION"] = "close"
        self.close_idle()

    def close_idle(self) -> None:
        for channel in self.channels():
            if is_idle(channel):
                channel.handle_close()
