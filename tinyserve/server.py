"""Running the WSGI app under waitress, in one process or in N forked workers.

With ``workers > 1`` the parent binds the listening socket, loads nothing itself beyond what the
app already holds, and forks workers that serve from the shared socket; it restarts a worker
that dies and passes SIGTERM/SIGINT on to them. waitress is imported only here, inside
functions, so importing this module stays stdlib-only.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
from typing import Any, Dict, Optional

logger = logging.getLogger("tinyserve")


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
    threads: int = 4,
    workers: int = 1,
    sock: Optional[socket.socket] = None,
) -> int:
    """Serve ``app`` until SIGTERM/SIGINT; returns the process exit status."""
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # one line per queued task
    sock = sock or bind_socket(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    logger.info("tinyserve listening on http://%s:%s (%d worker(s), %d thread(s) each)",
                bound_host, bound_port, workers, threads)
    if workers <= 1:
        return run_worker(app, sock, threads)
    return supervise(app, sock, threads, workers)


def run_worker(app: Any, sock: socket.socket, threads: int) -> int:
    """One waitress server on the shared socket; SIGTERM/SIGINT close it cleanly."""
    from waitress.server import create_server

    server = create_server(app, sockets=[sock], threads=threads, clear_untrusted_proxy_headers=True)

    def stop(signum: int, frame: Any) -> None:
        server.close()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.run()
    except SystemExit as exit_request:
        return int(exit_request.code or 0)
    return 0


def supervise(app: Any, sock: socket.socket, threads: int, workers: int) -> int:
    """Fork ``workers`` processes and keep that many alive until told to stop."""
    children: Dict[int, int] = {}
    stopping = False

    def spawn(slot: int) -> None:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 1
            try:
                code = run_worker(app, sock, threads)
            finally:
                os._exit(code)
        children[pid] = slot

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
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

    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO, handlers=[handler])
