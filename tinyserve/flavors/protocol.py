"""How a PythonModel is set up and called: context, ``load_context``, the predict protocol.

Shared by custom pickled models and models from code, following MLflow 3.17's
``_load_context_model_and_signature`` and ``_PythonModelPyfuncWrapper`` (spec 13.3):

* ``context.artifacts`` maps each saved artifact to its absolute path in the model directory;
  ``context.model_config`` is the effective config; ``load_context`` runs once.
* predict "takes a context" when its signature has a ``context`` parameter or exactly two
  parameters besides ``self`` and ``params``; ``params=`` is passed only when declared.
* for type-hinted predicts a DataFrame (CSV input) becomes a plain list: the first string
  column for ``list[str]``, records for ``list[dict[str, str]]``; MLflow's pickled predict
  wrapper converts and validates the rest.
"""
from __future__ import annotations

import inspect
import logging
import os
from typing import Any, Dict, List, Optional

import pandas as pd

from tinyserve.errors import ModelLoadError
from tinyserve.flavors.common import LoadRequest, one_line, warn_params_ignored

logger = logging.getLogger("tinyserve")

# The hints for which MLflow's wrapper reshapes a DataFrame itself (``typing`` spellings too).
LIST_OF_STR_HINTS = [List[str], list[str]]
LIST_OF_STR_DICT_HINTS = [List[Dict[str, str]], list[Dict[str, str]], List[dict[str, str]],
                          list[dict[str, str]]]


def takes_context(parameters: Any) -> bool:
    """MLflow's rule: ``context`` is named, or two parameters besides ``self`` and ``params``."""
    return "context" in parameters or (
        len([name for name in parameters if name not in ("self", "params")]) == 2
    )


def artifact_paths(request: LoadRequest) -> Dict[str, str]:
    """``{name: absolute path}`` of ``python_function.artifacts`` (the saved ``uri`` is unused)."""
    artifacts = request.conf.get("artifacts") or {}
    if not isinstance(artifacts, dict):
        raise ModelLoadError(f"Invalid 'artifacts' in MLmodel: expected a mapping, got "
                             f"{type(artifacts).__name__}")
    paths = {}
    for name, info in artifacts.items():
        relative = info.get("path") if isinstance(info, dict) else None
        if not isinstance(relative, str):
            raise ModelLoadError(f"Invalid artifact '{name}' in MLmodel: it has no 'path'")
        paths[name] = os.path.join(request.data_path, relative)
    return paths


def prepare_python_model(python_model: Any, request: LoadRequest) -> "PythonModelWrapper":
    """Build the context, run ``load_context`` once and wrap the model for prediction."""
    from mlflow.pyfunc.model import PythonModelContext  # real MLflow or the stand-in

    context = PythonModelContext(artifacts=artifact_paths(request),
                                 model_config=request.model_config)
    load_context = getattr(python_model, "load_context", None)
    if load_context is not None:
        try:
            load_context(context=context)
        except Exception as error:
            raise ModelLoadError(one_line(
                f"The model's load_context failed: {type(error).__name__}: {error}"
            )) from error
    return PythonModelWrapper(python_model, context, request.signature)


def _first_string_column(frame: pd.DataFrame) -> Any:
    return next((col for col, val in frame.iloc[0].items() if isinstance(val, str)), None)


class PythonModelWrapper:
    """MLflow's pyfunc wrapper around a PythonModel: ``predict(model_input, params=None)``."""

    def __init__(self, python_model: Any, context: Any, signature: Any) -> None:
        self.python_model = python_model
        self.context = context
        self.signature = signature

    def _input_hint(self) -> Any:
        hints = getattr(self.python_model, "predict_type_hints", None)
        return getattr(hints, "input", None)

    def _convert_input(self, model_input: Any) -> Any:
        if not isinstance(model_input, pd.DataFrame):
            return model_input
        hint = self._input_hint()
        if hint in LIST_OF_STR_HINTS:
            column = _first_string_column(model_input)
            if column is None:
                from mlflow.exceptions import MlflowException

                raise MlflowException.invalid_parameter_value(
                    "Expected model input to contain at least one string column"
                )
            return model_input[column].tolist()
        if hint in LIST_OF_STR_DICT_HINTS:
            inputs = getattr(getattr(self.signature, "inputs", None), "inputs", None) or []
            if len(inputs) == 1 and inputs[0].name is None:
                column = _first_string_column(model_input)
                if column is not None:
                    return model_input[[column]].to_dict(orient="records")
                if len(model_input.columns) == 1:
                    return model_input.to_dict("list")[0]
            return model_input.to_dict(orient="records")
        return model_input

    def predict(self, model_input: Any, params: Optional[dict] = None) -> Any:
        parameters = inspect.signature(self.python_model.predict).parameters
        kwargs = {}
        if "params" in parameters:
            kwargs["params"] = params
        else:
            warn_params_ignored(params)
        if takes_context(parameters):
            return self.python_model.predict(self.context, self._convert_input(model_input),
                                             **kwargs)
        return self.python_model.predict(self._convert_input(model_input), **kwargs)
