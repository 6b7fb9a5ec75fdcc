"""Stand-in for the ``mlflow`` package, used by tinyserve only where MLflow is not installed.

It provides what pickled models and model code refer to (spec 13.5): ``mlflow.pyfunc``
(``PythonModel``, ``PythonModelContext``), ``mlflow.models`` (``set_model``, ``ModelConfig``),
``mlflow.exceptions.MlflowException`` and ``mlflow.protos.databricks_pb2``. Anything else
fails to import, and tinyserve then says that the model needs MLflow itself.
"""
from __future__ import annotations

from typing import Any

from mlflow import exceptions, models, protos, pyfunc, types  # noqa: F401
from mlflow.exceptions import MlflowException

# The MLflow version whose behaviour these stand-ins reproduce.
__version__ = "3.17.2"
TINYSERVE_STAND_IN = True


def trace(func: Any = None, **_options: Any) -> Any:
    """``@mlflow.trace`` without a tracking server: the function is returned unchanged."""
    if func is None:
        return lambda inner: inner
    return func


__all__ = ["MlflowException", "exceptions", "models", "protos", "pyfunc", "trace", "types"]
