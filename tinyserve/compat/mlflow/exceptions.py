"""Stand-in for ``mlflow.exceptions``: ``MlflowException`` as MLflow 3.17 builds it.

The scoring server answers a model's ``MlflowException`` with its ``error_code`` (a name such
as ``RESOURCE_DOES_NOT_EXIST``) and ``message``. Like MLflow, the code is given as a
``databricks_pb2`` number; anything that is not a known number (a name string included)
becomes ``INTERNAL_ERROR``, exactly as ``ErrorCode.Name`` fails in MLflow.
"""
from __future__ import annotations

import json
from typing import Any, Optional

from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, INVALID_PARAMETER_VALUE, ErrorCode

# error_code name -> (sqlstate, error_class): MLflow's client-side classification tables.
CLIENT_CLASSIFICATION = {
    "BAD_REQUEST": ("KAM00", "INVALID_PARAMETER_VALUE"),
    "CUSTOMER_UNAUTHORIZED": ("KAM00", "PERMISSION_DENIED"),
    "ENDPOINT_NOT_FOUND": ("KAM00", "RESOURCE_NOT_FOUND"),
    "FEATURE_DISABLED": ("KAM00", "FEATURE_DISABLED"),
    "INTERNAL_ERROR": ("XXM00", "CLIENT_INTERNAL_ERROR"),
    "INVALID_PARAMETER_VALUE": ("KAM00", "INVALID_PARAMETER_VALUE"),
    "INVALID_STATE": ("XXM00", "CLIENT_INTERNAL_ERROR"),
    "NOT_FOUND": ("KAM00", "RESOURCE_NOT_FOUND"),
    "PERMISSION_DENIED": ("KAM00", "PERMISSION_DENIED"),
    "RESOURCE_ALREADY_EXISTS": ("KAM00", "RESOURCE_ALREADY_EXISTS"),
    "RESOURCE_DOES_NOT_EXIST": ("KAM00", "RESOURCE_NOT_FOUND"),
    "TEMPORARILY_UNAVAILABLE": ("XXM00", "CLIENT_INTERNAL_ERROR"),
}
# error_class -> sqlstate where the class is finer than the code.
ERROR_CLASS_SQLSTATE = {
    "ATTRIBUTE_NOT_FOUND": "KAM04",
    "MODEL_SERIALIZATION_FAILED": "KAM03",
    "PREDICTION_FUNCTION_FAILED": "KAM02",
    "SCHEMA_ENFORCEMENT_FAILED": "KAM01",
}
ERROR_CODE_TO_HTTP_STATUS = {
    "INTERNAL_ERROR": 500, "INVALID_STATE": 500, "DATA_LOSS": 500, "NOT_IMPLEMENTED": 501,
    "TEMPORARILY_UNAVAILABLE": 503, "DEADLINE_EXCEEDED": 504, "REQUEST_LIMIT_EXCEEDED": 429,
    "CANCELLED": 499, "RESOURCE_EXHAUSTED": 429, "ABORTED": 409, "RESOURCE_CONFLICT": 409,
    "ALREADY_EXISTS": 409, "NOT_FOUND": 404, "ENDPOINT_NOT_FOUND": 404,
    "RESOURCE_DOES_NOT_EXIST": 404, "PERMISSION_DENIED": 403, "CUSTOMER_UNAUTHORIZED": 401,
    "UNAUTHENTICATED": 401, "BAD_REQUEST": 400, "RESOURCE_ALREADY_EXISTS": 400,
    "INVALID_PARAMETER_VALUE": 400,
}


class MlflowException(Exception):
    """An error with an MLflow ``error_code`` name and a client-visible ``message``."""

    def __init__(
        self,
        message: Any,
        error_code: int = INTERNAL_ERROR,
        sqlstate: Optional[str] = None,
        error_class: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        try:
            self.error_code = ErrorCode.Name(error_code)
        except (ValueError, TypeError):
            self.error_code = ErrorCode.Name(INTERNAL_ERROR)
        message = str(message)
        self.message = message
        default_sqlstate, default_class = CLIENT_CLASSIFICATION.get(self.error_code, (None, None))
        self.error_class = error_class if error_class is not None else default_class
        if sqlstate is not None:
            self.sqlstate = sqlstate
        else:
            self.sqlstate = ERROR_CLASS_SQLSTATE.get(self.error_class or "") or default_sqlstate
        self.json_kwargs = kwargs
        super().__init__(message)

    def serialize_as_json(self) -> str:
        body = {"error_code": self.error_code, "message": self.message}
        if self.sqlstate is not None:
            body["sqlstate"] = self.sqlstate
        if self.error_class is not None:
            body["error_class"] = self.error_class
        body.update(self.json_kwargs)
        return json.dumps(body)

    def get_http_status_code(self) -> int:
        return ERROR_CODE_TO_HTTP_STATUS.get(self.error_code, 500)

    @classmethod
    def invalid_parameter_value(
        cls, message: Any, sqlstate: Optional[str] = None, error_class: Optional[str] = None,
        **kwargs: Any,
    ) -> "MlflowException":
        return cls(message, error_code=INVALID_PARAMETER_VALUE, sqlstate=sqlstate,
                   error_class=error_class, **kwargs)
