"""A loaded model behind MLflow's pyfunc ``predict`` contract.

``PyfuncModel.predict`` is what every entry point calls: it enforces the input schema (layer B)
and the params schema, calls the model, and turns failures into the ``ScoringError`` MLflow's
server would answer with. Loading runs code from the model directory (unpickling, model code):
load only model directories you trust.
"""
from __future__ import annotations

import logging
import os
import traceback
from typing import Any

from tinyserve.errors import ParamsError, SchemaEnforcementError, ScoringError
from tinyserve.uri import resolve_model_uri

logger = logging.getLogger("tinyserve")

UNEXPECTED_MODEL_ERROR = (
    "Encountered an unexpected error while evaluating the model. Verify that the serialized "
    "input Dataframe is compatible with the model for inference."
)


class PyfuncModel:
    """Schema enforcement plus the model's own predict, with MLflow's error semantics."""

    def __init__(self, loaded: Any) -> None:
        self.loaded = loaded
        self.spec = loaded.spec
        signature = loaded.signature
        self.input_schema = signature.inputs if signature is not None else None
        self.params_schema = signature.params if signature is not None else None
        self.type_hint_model = bool(self.spec.is_signature_from_type_hint)
        self.param_names = frozenset(
            p.name for p in (self.params_schema.params if self.params_schema else ())
        )

    def predict(self, data: Any, params: Any = None) -> Any:
        """Enforce schemas and predict; raise ``ScoringError`` exactly as MLflow would answer."""
        from tinyserve.enforce import enforce_input
        from tinyserve.params import enforce_params

        model_input = data
        if self.input_schema is not None and not self.type_hint_model:
            try:
                model_input = enforce_input(data, self.input_schema)
            except SchemaEnforcementError as error:
                raise self._schema_error(data, error.reason) from error
        try:
            params = enforce_params(params, self.params_schema)
        except ParamsError as error:
            raise ScoringError(
                f"Failed to predict data '{data}'. \nError: {error.message}",
                "INVALID_PARAMETER_VALUE",
            ) from error
        except Exception as error:  # numpy failing on a ragged list: MLflow's generic 400
            raise model_error(data, error) from error
        try:
            return self.loaded.predict(model_input, params)
        except ScoringError:
            raise
        except Exception as error:  # the model's own failure: map it like MLflow does
            raise model_error(data, error) from error

    def _schema_error(self, data: Any, reason: str) -> ScoringError:
        if os.environ.get("MLFLOW_DISABLE_SCHEMA_DETAILS", "").lower() == "true":
            detail = "Failed to enforce model input schema. Please check your input data."
        else:
            detail = (
                f"Failed to enforce schema of data '{data}' with schema "
                f"'{self.input_schema!r}'. Error: {reason}"
            )
        return ScoringError(
            f"Failed to predict data '{data}'. \nError: {detail}",
            "INVALID_PARAMETER_VALUE",
            error_class="SCHEMA_ENFORCEMENT_FAILED",
            sqlstate="KAM01",
        )


def model_error(data: Any, error: BaseException) -> ScoringError:
    """MLflow exceptions keep their code and message; anything else is MLflow's generic 400."""
    code = getattr(error, "error_code", None)
    message = getattr(error, "message", None)
    if code is not None and message is not None:
        return ScoringError(
            f"Failed to predict data '{data}'. \nError: {message}", error_code_name(code)
        )
    logger.error("The model raised an exception", exc_info=error)
    return ScoringError(
        UNEXPECTED_MODEL_ERROR,
        "BAD_REQUEST",
        stack_trace="".join(traceback.format_exception(type(error), error, error.__traceback__)),
    )


def error_code_name(code: Any) -> str:
    """MLflow exceptions carry the code's name; anything else counts as an internal error."""
    return code if isinstance(code, str) and code else "INTERNAL_ERROR"


def load_pyfunc(model_uri: str) -> PyfuncModel:
    """Load a model directory or ``file://`` URI; raises ``ModelLoadError`` with one line."""
    from tinyserve.flavors import load_model

    return PyfuncModel(load_model(resolve_model_uri(model_uri)))
