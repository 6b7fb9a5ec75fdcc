"""Running the WSGI app under waitress, in one process or in N forked workers.

With ``workers > 1`` the parent binds the listening socket, loads nothing itself beyond what the
app already holds, and forks workers that serve from the shared socket; it restarts a worker
that dies and passes SIGTERM/SIGINT on to them. On those signals a worker drains: it stops
accepting, answers what it already received (up to the graceful timeout, with ``Connection:
close``), closes idle keep-alive connections and exits 0. ``connections.ConnectionKeeper`` does
the per-connection part of that, and closes connections too slow to send their request head.
waitress is imported only here, inside functions, so importing this module stays stdlib-only.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
from typing import Any, Dict, List, NamedTuple, Optional

from tinyserve.connections import DEFAULT_HEADER_TIMEOUT
from tinyserve.overload import DEFAULT_MAX_IN_FLIGHT

# waitress reads 8 KiB per recv by default; a 74 MB body then takes 9,000 trips through its
# loop. 64 KiB cut a 100,000-row CSV request from 0.95-1.0 s to 0.75-0.85 s (scripts/bench.py)
# and stays below glibc's mmap threshold, so small requests do not pay for it.
RECV_BYTES = 64 * 1024

logger = logging.getLogger("tinyserve")
DEFAULT_GRACEFUL_TIMEOUT = 30.0
DEFAULT_MAX_HEADER_SIZE = 64 * 1024


class WorkerOptions(NamedTuple):
    """How each worker serves: threads, limits and the drain on SIGTERM."""

    threads: int = 4
    graceful_timeout: float = DEFAULT_GRACEFUL_TIMEOUT
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT  # queued + running requests; past it, 503
    max_header_size: int = DEFAULT_MAX_HEADER_SIZE  # request line + headers; past it, 431
    ssl_context: Optional[Any] = None  # an ssl.SSLContext: serve HTTPS (tinyserve.tls)
    header_timeout: float = DEFAULT_HEADER_TIMEOUT  # seconds to send a request head; 0: no limit


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket with address reuse, for the parent to share with its workers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


def serve(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 5000,
    workers: int = 1,
    sock: Optional[socket.socket] = None,
    options: WorkerOptions = WorkerOptions(),
) -> int:
    """Serve ``app`` until SIGTERM/SIGINT; returns the process exit status. With an
    ``ssl.SSLContext`` it serves HTTPS (``tinyserve.tls``)."""
    from tinyserve.memory import map_large_blocks_separately

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # one line per queued task
    map_large_blocks_separately()  # request-sized buffers go back to the system when freed
    sock = sock or bind_socket(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    scheme = "https" if options.ssl_context else "http"
    logger.info("tinyserve listening on %s://%s:%s (%d worker(s), %d thread(s) each)",
                scheme, bound_host, bound_port, workers, options.threads)
    if workers <= 1:
        return run_worker(app, sock, options)
    return supervise(app, sock, workers, options)


def run_worker(app: Any, sock: socket.socket, options: WorkerOptions = WorkerOptions()) -> int:
    """One waitress server on the shared socket until SIGTERM/SIGINT, then a drain: no new
    connections, every request already received is answered (for up to the graceful timeout),
    and the process exits 0."""
    from waitress import wasyncore
    from waitress.server import create_server

    from tinyserve.connections import ConnectionKeeper, accept_in_batches, connection_limit
    from tinyserve.overload import shedding_dispatcher
    from tinyserve.refused_requests import use_json_errors
    from tinyserve.wsgi import DEFAULT_MAX_BODY_SIZE

    graceful_timeout = options.graceful_timeout
    server = create_server(
        app, sockets=[sock], threads=options.threads, clear_untrusted_proxy_headers=True,
        max_request_header_size=options.max_header_size, connection_limit=connection_limit(),
        # waitress refuses when Content-Length >= its limit; the app's limit refuses only >
        max_request_body_size=getattr(app, "max_body_size", DEFAULT_MAX_BODY_SIZE) + 1,
        _dispatcher=shedding_dispatcher(options.threads, options.max_in_flight),
        recv_bytes=RECV_BYTES,
    )
    if options.ssl_context is not None:
        from tinyserve.tls import use_tls

        use_tls(server, options.ssl_context)
    use_json_errors(server)
    accept_in_batches(server)
    keeper = ConnectionKeeper(server, options.header_timeout)
    stopping: List[float] = []  # the drain deadline, once a signal came

    def stop(signum: int, frame: Any) -> None:
        if stopping:  # a second signal: stop waiting for the requests in progress
            stopping[0] = 0.0
            return
        stopping.append(time.monotonic() + graceful_timeout)
        server.accepting = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    listening = True
    while not (stopping and (drained(server) or time.monotonic() > stopping[0])):
        if stopping and listening:  # outside the poll, whose fd list may hold the socket
            keeper.accept_waiting()  # completed connections in the backlog: serve, not reset
            server.del_channel()
            server.socket.close()  # new connections are refused from now on
            listening = False
            keeper.start_drain()  # answers say Connection: close; idle connections close
        wasyncore.loop(timeout=0.2, map=server._map, use_poll=server.adj.asyncore_use_poll,
                       count=1)
        keeper.sweep()  # the header deadline; while draining, connections gone idle close
    for signum in (signal.SIGTERM, signal.SIGINT):  # exiting already: later signals change nothing
        signal.signal(signum, signal.SIG_IGN)
    if not drained(server):
        logger.warning("Graceful timeout of %s s reached with requests still in progress",
                       graceful_timeout)
    server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
    wasyncore.close_all(server._map)
    return 0


def drained(server: Any) -> bool:
    """No request is being read, waiting, running or having its answer sent, and no byte of
    one is waiting unread in a connection."""
    from tinyserve.connections import is_idle

    if server.task_dispatcher.pending():
        return False
    return all(is_idle(channel) for channel in list(server.active_channels.values()))


def supervise(app: Any, sock: socket.socket, workers: int,
              options: WorkerOptions = WorkerOptions()) -> int:
    """Fork ``workers`` processes and keep that many alive until told to stop."""
    from tinyserve.log_output import flush_logs

    children: Dict[int, int] = {}
    stopping = False
    metrics = getattr(app, "metrics", None)
    if metrics is not None:
        metrics.share(workers)  # one row per slot, in memory the forked workers share

    def spawn(slot: int) -> None:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 1
            try:
                if metrics is not None:
                    metrics.claim_row(slot)
                code = run_worker(app, sock, options)
            finally:
                flush_logs()
                os._exit(code)
        children[pid] = slot
        if metrics is not None:
            metrics.set_workers(len(children))

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        sock.close()  # the workers drain; once they close theirs, new connects are refused
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for slot in range(workers):
        spawn(slot)
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        slot = children.pop(pid, None)
        if metrics is not None and slot is not None:
            metrics.worker_gone(slot, replaced=not stopping)
            metrics.set_workers(len(children))
        if slot is None or stopping:
            continue
        logger.error("Worker %d exited (status %d); starting a new one", pid, status)
        time.sleep(0.1)
        spawn(slot)
    sock.close()
    return 0


LOG_FORMATS = ("text", "json")


def configure_logging(debug: bool = False, log_format: str = "text") -> None:
    """Logs to stderr: text lines, or one JSON object per line (``--log-format json``)."""
    from tinyserve.access_log import JsonFormatter
    from tinyserve.log_output import BatchedStreamHandler

    handler = BatchedStreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO, handlers=[handler])
