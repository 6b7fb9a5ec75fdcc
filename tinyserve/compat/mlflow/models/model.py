"""Stand-in for ``mlflow.models.model``: ``set_model``, which models-from-code files call.

``set_model`` stores the object in the module global ``__mlflow_model__``, where the
models-from-code loader picks it up after running the file (as MLflow's loader does).
"""
from __future__ import annotations

from typing import Any

import mlflow
from mlflow.exceptions import MlflowException

SET_MODEL_ERROR = (
    "Model should either be an instance of PyFuncModel, Langchain type, or LlamaIndex index."
)
__mlflow_model__ = None


def set_model(model: Any) -> None:
    """Record the model a models-from-code file defines: a PythonModel or any callable."""
    from mlflow.pyfunc import PythonModel

    if isinstance(model, str):
        raise MlflowException(SET_MODEL_ERROR)
    if isinstance(model, PythonModel) or callable(model):
        globals()["__mlflow_model__"] = model
        return
    raise mlflow.MlflowException(SET_MODEL_ERROR)
