"""The exception vocabulary of tinyserve.

Every failure a client can see carries its HTTP status and, for JSON errors, MLflow's
``error_code``; it is rendered in one place (``ScoringError.to_json``). Errors a person at the
command line can fix (a missing package, a bad model directory) are ``ModelLoadError``: the CLI
prints their one-line message, never a traceback.
"""
from __future__ import annotations

import json
from typing import Optional

# error_code -> (HTTP status, sqlstate, error_class); spec section 10.2.
ERROR_CODES = {
    "BAD_REQUEST": (400, "KAM00", "INVALID_PARAMETER_VALUE"),
    "INVALID_PARAMETER_VALUE": (400, "KAM00", "INVALID_PARAMETER_VALUE"),
    "RESOURCE_ALREADY_EXISTS": (400, "KAM00", "RESOURCE_ALREADY_EXISTS"),
    "CUSTOMER_UNAUTHORIZED": (401, "KAM00", "PERMISSION_DENIED"),
    "UNAUTHENTICATED": (401, None, None),
    "PERMISSION_DENIED": (403, "KAM00", "PERMISSION_DENIED"),
    "NOT_FOUND": (404, "KAM00", "RESOURCE_NOT_FOUND"),
    "ENDPOINT_NOT_FOUND": (404, "KAM00", "RESOURCE_NOT_FOUND"),
    "RESOURCE_DOES_NOT_EXIST": (404, "KAM00", "RESOURCE_NOT_FOUND"),
    "ABORTED": (409, None, None),
    "RESOURCE_CONFLICT": (409, None, None),
    "ALREADY_EXISTS": (409, None, None),
    "REQUEST_LIMIT_EXCEEDED": (429, None, None),
    "RESOURCE_EXHAUSTED": (429, None, None),
    "CANCELLED": (499, None, None),
    "INTERNAL_ERROR": (500, "XXM00", "CLIENT_INTERNAL_ERROR"),
    "INVALID_STATE": (500, "XXM00", "CLIENT_INTERNAL_ERROR"),
    "DATA_LOSS": (500, None, None),
    "NOT_IMPLEMENTED": (501, None, None),
    "TEMPORARILY_UNAVAILABLE": (503, "XXM00", "CLIENT_INTERNAL_ERROR"),
    "DEADLINE_EXCEEDED": (504, None, None),
}


class TinyserveError(Exception):
    """Base of every error tinyserve raises on purpose."""


class ModelLoadError(TinyserveError):
    """A model cannot be loaded; the message is one line a person can act on."""


class ScoringError(TinyserveError):
    """A request failed; rendered as MLflow's JSON error body with the code's status."""

    def __init__(
        self,
        message: str,
        error_code: str = "BAD_REQUEST",
        stack_trace: Optional[str] = None,
        error_class: Optional[str] = None,
        sqlstate: Optional[str] = None,
        status: Optional[int] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code
        code_status, default_sqlstate, default_class = ERROR_CODES.get(error_code, (500, None, None))
        self.status = status or code_status
        self.sqlstate = sqlstate or default_sqlstate
        self.error_class = error_class or default_class
        self.stack_trace = stack_trace

    def to_json(self, include_stack_trace: bool = True) -> bytes:
        body = {"error_code": self.error_code, "message": self.message}
        if self.sqlstate:
            body["sqlstate"] = self.sqlstate
        if self.error_class:
            body["error_class"] = self.error_class
        if self.stack_trace and include_stack_trace:
            body["stack_trace"] = self.stack_trace
        return json.dumps(body).encode("ascii")


class SchemaEnforcementError(TinyserveError):
    """Layer-B input enforcement failed; ``reason`` is MLflow's text after ``Error: ``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ParamsError(TinyserveError):
    """Params validation failed; ``message`` is MLflow's text after ``\\nError: ``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnsupportedMediaType(TinyserveError):
    """A Content-Type the scoring protocol refuses: 415 with a text/plain body."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text
