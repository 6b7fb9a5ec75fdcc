"""The WSGI application: routing, body limits, timeouts and the outermost error boundary.

Only this module sees the WSGI environ. Routing follows MLflow's scoring server: ``/ping``,
``/health`` and ``/version`` answer GET (and HEAD, a deliberate difference), ``/invocations``
answers POST; unknown paths get 404 and wrong methods 405 with ``Allow``. ``/live`` and
``/ready`` are tinyserve's own: ``/ready`` is 503 while the warm-up prediction on the model's
input example has not succeeded; ``/metrics`` (unless turned off) is in Prometheus text format.
Each request passes, in order: the guard (token, CORS; ``tinyserve.security``), the router, the
handler (``/invocations`` answers 503 at once when the worker sheds load,
``tinyserve.overload``), then metrics, the request id header and the access line. Importing this module loads only the standard library; ``application`` (for gunicorn, uWSGI,
mod_wsgi) loads the model named by ``TINYSERVE_MODEL_URI`` when it is first looked up.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import traceback
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple
from urllib.parse import unquote

from tinyserve.access_log import REQUEST_ID_HEADER, log_access, request_id
from tinyserve.deadlines import run_with_timeout
from tinyserve.errors import ScoringError
from tinyserve.overload import RETRY_AFTER_SECONDS, shedding
from tinyserve.responses import Response, json_response
from tinyserve.security import Guard, guard_from_env
from tinyserve.metrics import CONTENT_TYPE as METRICS_TYPE
from tinyserve.metrics import OVERRUNS, Metrics, enabled

logger = logging.getLogger("tinyserve")

MODEL_URI_ENV = "TINYSERVE_MODEL_URI"
TIMEOUT_ENV = "MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT"
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_BODY_SIZE = 100 * 1024 * 1024
LARGE_BODY_BYTES = 1 << 20  # after a request or answer this big, freed memory is returned
ROWS_KEY = "tinyserve.rows"  # environ key: rows the model was given, for the metrics

STATUS_TEXT = {
    200: "OK", 307: "Temporary Redirect", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
    413: "Content Too Large", 415: "Unsupported Media Type", 429: "Too Many Requests",
    499: "Client Closed Request", 500: "Internal Server Error", 501: "Not Implemented",
    503: "Service Unavailable", 504: "Gateway Timeout",
}
NOT_FOUND_BODY = b'{"detail":"Not Found"}'
NOT_ALLOWED_BODY = b'{"detail":"Method Not Allowed"}'
INTERNAL_ERROR_BODY = json.dumps(
    {"error_code": "INTERNAL_ERROR", "message": "Internal server error: see the server log."}
).encode("ascii")

Handler = Callable[[Dict[str, Any]], Response]


def status_line(status: int) -> str:
    return f"{status} {STATUS_TEXT.get(status, 'Unknown')}"


class Router:
    """Exact-path routing; decides 404 versus 405 and the ``Allow`` header (as bottle does)."""

    def __init__(self) -> None:
        self.routes: Dict[str, Dict[str, Handler]] = {}

    def add(self, path: str, methods: Iterable[str], handler: Handler) -> None:
        for method in methods:
            self.routes.setdefault(path, {})[method] = handler

    def match(self, method: str, path: str) -> Tuple[Optional[Handler], Response]:
        """The handler, or ``None`` and the response to send instead (404, 405 or 307)."""
        by_method = self.routes.get(path)
        if by_method is None:
            if len(path) > 1 and path.endswith("/") and path.rstrip("/") in self.routes:
                return None, (307, [("Location", path.rstrip("/"))], b"")
            return None, json_response(404, NOT_FOUND_BODY)
        handler = by_method.get(method)
        if handler is None:
            allow = ", ".join(sorted(by_method))
            return None, json_response(405, NOT_ALLOWED_BODY, [("Allow", allow)])
        return handler, (0, [], b"")


class ScoringApp:
    """A WSGI callable serving one model through a ``Scorer``."""

    def __init__(
        self,
        scorer: Any,
        timeout: Optional[float] = DEFAULT_TIMEOUT,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        metrics: Optional[Metrics] = None,
    ) -> None:
        from tinyserve import __version__

        self.scorer = scorer
        self.timeout = timeout if timeout and timeout > 0 else None
        self.max_body_size = max_body_size
        self.version_body = __version__.encode("ascii")
        self.router = Router()
        self.router.add("/ping", ("GET", "HEAD"), self.ping)
        self.router.add("/health", ("GET", "HEAD"), self.ping)
        self.router.add("/version", ("GET", "HEAD"), self.version)
        self.router.add("/invocations", ("POST",), self.invocations)
        self.router.add("/live", ("GET", "HEAD"), self.ping)
        self.router.add("/ready", ("GET", "HEAD"), self.ready)
        self.not_ready: Optional[str] = None  # why the warm-up prediction failed, if it did
        self.guard: Optional[Guard] = None  # auth and CORS (tinyserve.security), when on
        self.metrics = metrics
        if metrics is not None:
            self.router.add("/metrics", ("GET", "HEAD"), self.metrics_page)
            OVERRUNS.listener = metrics.set_overrunning  # this process's overrun gauge

    def __call__(self, environ: Dict[str, Any], start_response: Callable) -> List[bytes]:
        started = time.perf_counter()
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = request_path(environ)
        request = request_id(environ)
        if self.metrics is not None:
            self.metrics.request_started()
        try:
            refusal = self.guard.screen(environ, method, path) if self.guard else None
            handler, response = (None, refusal) if refusal else self.router.match(method, path)
            if handler is not None:
                response = handler(environ)
            elif response[0] == 307:
                location = redirect_url(environ, dict(response[1])["Location"])
                response = (307, [("Location", location)], b"")
        except Exception:  # the outermost boundary: log it, answer a fixed body
            logger.error("Unhandled error serving %s %s (request_id=%s)\n%s", method, path,
                         request, traceback.format_exc())
            response = json_response(500, INTERNAL_ERROR_BODY)
        status, headers, body = response
        if self.metrics is not None:
            self.metrics.request_finished(path, method, status, time.perf_counter() - started,
                                          environ.get(ROWS_KEY, 0))
        headers.append(("Content-Length", str(len(body))))
        headers.append((REQUEST_ID_HEADER, request))
        if self.guard:
            headers.extend(self.guard.headers(environ))
        start_response(status_line(status), headers)
        sent = b"" if method == "HEAD" else body
        log_access(method, path, status, len(sent), started, request)
        return [sent]

    def ping(self, environ: Dict[str, Any]) -> Response:
        return json_response(200, b"\n")

    def ready(self, environ: Dict[str, Any]) -> Response:
        if self.not_ready is None:
            return json_response(200, b"\n")
        error = ScoringError(self.not_ready, "TEMPORARILY_UNAVAILABLE", status=503)
        return json_response(503, error.to_json())

    def version(self, environ: Dict[str, Any]) -> Response:
        return json_response(200, self.version_body)

    def metrics_page(self, environ: Dict[str, Any]) -> Response:
        return 200, [("Content-Type", METRICS_TYPE)], self.metrics.render()

    def invocations(self, environ: Dict[str, Any]) -> Response:
        if shedding():
            error = ScoringError("The server is at its limit of requests in flight "
                                 "(see --max-in-flight); retry later.",
                                 "TEMPORARILY_UNAVAILABLE", status=503)
            return json_response(503, error.to_json(),
                                 [("Retry-After", str(RETRY_AFTER_SECONDS))])
        try:
            body = read_body(environ, self.max_body_size)
        except ScoringError as error:
            return json_response(error.status, error.to_json())
        content_type = environ.get("CONTENT_TYPE")
        reply = run_with_timeout(lambda: self.scorer.score(body, content_type), self.timeout)
        if reply is None:
            error = ScoringError("Request processing time exceeded limit", "DEADLINE_EXCEEDED")
            return json_response(504, error.to_json())
        if max(len(body), len(reply.body)) > LARGE_BODY_BYTES:
            from tinyserve.memory import release_freed_memory

            del body
            release_freed_memory()
        environ[ROWS_KEY] = reply.rows
        return reply.status, [("Content-Type", reply.content_type)], reply.body


def read_body(environ: Dict[str, Any], limit: int) -> bytes:
    """The request body, refused with 413 before reading when it is larger than ``limit``."""
    stream = environ["wsgi.input"]
    length_text = environ.get("CONTENT_LENGTH") or ""
    if length_text.strip():
        try:
            length = int(length_text)
        except ValueError:
            raise ScoringError(f"Invalid Content-Length: {length_text!r}") from None
        if length > limit:
            raise too_large(limit)
        return stream.read(length) if length > 0 else b""
    if environ.get("wsgi.input_terminated"):
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise too_large(limit)
        return body
    return b""


def too_large(limit: int) -> ScoringError:
    return ScoringError(
        f"Request body is larger than the limit of {limit} bytes (see --max-body-size).",
        "REQUEST_LIMIT_EXCEEDED",
        status=413,
    )


def request_path(environ: Dict[str, Any]) -> str:
    """The path as the client sent it: waitress collapses ``//ping`` into ``/ping`` in
    ``PATH_INFO``, where MLflow answers 404, so route on the raw ``REQUEST_URI`` when present."""
    raw = environ.get("REQUEST_URI")
    if raw and raw.startswith("/"):
        return unquote(raw.split("?", 1)[0])
    return environ.get("PATH_INFO") or "/"


def redirect_url(environ: Dict[str, Any], path: str) -> str:
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
    query = environ.get("QUERY_STRING")
    return f"{scheme}://{host}{path}" + (f"?{query}" if query else "")


def create_app(
    model_uri: str,
    timeout: Optional[float] = None,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    debug: bool = False,
    metrics: Optional[bool] = None,
    guard: Optional[Guard] = None,
) -> ScoringApp:
    """Load the model and return the WSGI app; ``timeout`` defaults to the MLflow env var or 60,
    ``metrics`` (``/metrics``) to on unless ``TINYSERVE_METRICS=0``; ``guard`` is the token and
    CORS check (``tinyserve.security``), none by default."""
    started = time.perf_counter()  # the imports below are part of loading the model
    from tinyserve.pyfunc import load_pyfunc
    from tinyserve.scoring import Scorer

    recorder = Metrics() if enabled(metrics, os.environ) else None
    if timeout is None:
        timeout = float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT)
    os.environ["_MLFLOW_IS_IN_SERVING_ENVIRONMENT"] = "true"
    scorer = Scorer(load_pyfunc(model_uri), debug=debug)
    app = ScoringApp(scorer, timeout=timeout, max_body_size=max_body_size, metrics=recorder)
    app.guard = guard
    app.not_ready = scorer.warm_up()
    if recorder is not None:
        recorder.set_model_load_seconds(time.perf_counter() - started)
    if app.not_ready is not None:
        logger.warning("Not ready (/ready answers 503): %s", app.not_ready)
    return app


_application: Optional[ScoringApp] = None
_application_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    """``tinyserve.wsgi:application`` loads the model from ``TINYSERVE_MODEL_URI`` on first use."""
    global _application
    if name != "application":
        raise AttributeError(name)
    with _application_lock:
        if _application is None:
            model_uri = os.environ.get(MODEL_URI_ENV)
            if not model_uri:
                raise RuntimeError(f"Set {MODEL_URI_ENV} to the model directory to serve.")
            guard = guard_from_env()  # first: a bad setting must not leave an open app
            _application = create_app(model_uri, guard=guard)
    return _application
