"""One access-log line per request, the request id that ties it to the client, and JSON logs.

A client's ``X-Request-ID`` is kept when it is a plausible id (1 to 128 characters of
letters, digits and ``._:@/+=-``, so it cannot forge log lines); otherwise one is generated.
Either way it is sent back in the response and written in the access line, which goes to the
``tinyserve.access`` logger: ``METHOD PATH STATUS BYTES DURATIONms request_id=ID``. With
``--log-format json`` every log record, access lines included, is one JSON object per line
(the access fields as keys, a traceback under ``exc_info``). Standard library only.
"""
from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any, Dict

REQUEST_ID_HEADER = "X-Request-ID"
_PLAUSIBLE_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")

access_logger = logging.getLogger("tinyserve.access")


def request_id(environ: Dict[str, Any]) -> str:
    """The client's ``X-Request-ID`` when plausible, else a new random one."""
    given = environ.get("HTTP_X_REQUEST_ID", "")
    return given if _PLAUSIBLE_ID.match(given) else uuid.uuid4().hex


def log_access(method: str, path: str, status: int, size: int, started: float,
               request: str) -> None:
    """Write the access line of a request that began at ``time.perf_counter()`` ``started``."""
    if not access_logger.isEnabledFor(logging.INFO):
        return
    duration_ms = (time.perf_counter() - started) * 1000
    fields = {"method": method, "path": path, "status": status, "bytes": size,
              "duration_ms": round(duration_ms, 2), "request_id": request}
    access_logger.info("%s %s %d %d %.1fms request_id=%s", method, path, status, size,
                       duration_ms, request, extra={"access": fields})


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object: time, level, logger, message, access fields, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: Dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
        }
        entry.update(getattr(record, "access", {}))
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
