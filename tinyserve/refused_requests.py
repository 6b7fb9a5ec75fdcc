"""Requests waitress refuses before the app sees them, answered like every other error.

waitress checks the request head and body size while it reads them (``--max-header-size``
gives 431, ``--max-body-size`` 413 as soon as ``Content-Length`` says so, so the body is never
read whole, and malformed HTTP 400) and answers with a plain-text page. Here those answers get
MLflow's JSON error body, an ``X-Request-ID``, an access-log line and a count in ``/metrics``,
as the app's own answers do. waitress is imported inside ``json_error_channel`` only.
"""
from __future__ import annotations

import json
import time
from typing import Any, Dict

from tinyserve.access_log import REQUEST_ID_HEADER, log_access, request_id

ERROR_CODES = {413: "REQUEST_LIMIT_EXCEEDED", 431: "REQUEST_LIMIT_EXCEEDED"}
EXPLANATIONS = {
    413: "Request body is larger than the limit of {limit} bytes (see --max-body-size).",
    431: "Request line and headers are larger than the limit of {limit} bytes "
         "(see --max-header-size).",
}


def error_body(status: int, reason: str, detail: str, adj: Any) -> bytes:
    """The JSON body for waitress's refusal ``status`` (its ``reason`` and ``detail``)."""
    limits = {413: adj.max_request_body_size - 1, 431: adj.max_request_header_size}
    explanation = EXPLANATIONS.get(status)
    message = (explanation.format(limit=limits[status]) if explanation
               else f"{reason}: {detail}")
    return json.dumps({"error_code": ERROR_CODES.get(status, "BAD_REQUEST"),
                       "message": message}).encode("utf-8")


def json_error_channel(channel_class: type) -> type:
    """``channel_class`` (waitress's HTTPChannel or a subclass) with JSON refusals."""
    from waitress.task import ErrorTask

    class JsonErrorTask(ErrorTask):
        def execute(self) -> None:
            started = time.perf_counter()
            error = self.request.error
            body = error_body(error.code, error.reason, error.body, self.channel.adj)
            request = request_id({})
            self.status = f"{error.code} {error.reason}"
            self.response_headers.extend([("Content-Type", "application/json"),
                                          (REQUEST_ID_HEADER, request)])
            self.set_close_on_finish()
            self.content_length = len(body)
            self.write(body)
            method = getattr(self.request, "command", None) or "-"  # unset if unparsable
            path = getattr(self.request, "path", None) or "-"
            log_access(method, path, error.code, len(body), started, request)
            metrics = getattr(self.channel.server.application, "metrics", None)
            if metrics is not None:
                metrics.request_finished(path, method, error.code,
                                         time.perf_counter() - started, started=False)

    attributes: Dict[str, Any] = {"error_task_class": JsonErrorTask}
    return type(f"JsonErrors{channel_class.__name__}", (channel_class,), attributes)


def use_json_errors(server: Any) -> None:
    """Give every listening socket of ``server`` (from ``create_server``) JSON refusals."""
    from waitress.server import BaseWSGIServer

    socket_map = getattr(server, "_map", None) or {}
    for dispatcher in {id(d): d for d in [server, *socket_map.values()]}.values():
        if isinstance(dispatcher, BaseWSGIServer):
            dispatcher.channel_class = json_error_channel(dispatcher.channel_class)
