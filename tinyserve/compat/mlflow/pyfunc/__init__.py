"""Stand-in for ``mlflow.pyfunc``: the names model code imports from it."""
from __future__ import annotations

from mlflow.pyfunc import model, utils  # noqa: F401  (``mlflow.pyfunc.model.X`` in user code)
from mlflow.pyfunc.model import PythonModel, PythonModelContext

FLAVOR_NAME = "python_function"

__all__ = ["FLAVOR_NAME", "PythonModel", "PythonModelContext", "model", "utils"]
