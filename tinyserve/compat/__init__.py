"""Stand-ins for the MLflow names that pickled models and model code refer to.

A custom model saved by MLflow is a cloudpickle whose classes derive from
``mlflow.pyfunc.model.PythonModel`` and whose predict wrapper calls
``mlflow.pyfunc.utils.data_validation._validate_model_input``; a models-from-code file runs
``import mlflow`` and ``mlflow.models.set_model(...)``. Without MLflow installed those names must
still import. The package ``tinyserve/compat/mlflow/`` mirrors the few MLflow modules involved
(spec 13.5), one file per MLflow module, and ``use_mlflow_names()`` makes ``import mlflow``
find it through a meta-path finder.

The finder is installed only when a loader needs MLflow names *and* MLflow itself is not
importable; where MLflow is installed, models get the real thing. Importing ``tinyserve`` (or
this package) never touches ``sys.modules['mlflow']``. Once installed, the stand-ins stay for
the life of the process, because model code may import ``mlflow`` again while predicting.

Never import ``tinyserve.compat.mlflow`` under that name: its modules must exist once, as
``mlflow.*``, so that ``isinstance`` and ``except MlflowException`` agree everywhere.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import threading
from types import ModuleType
from typing import Optional, Sequence

STAND_IN_ROOT = os.path.dirname(os.path.abspath(__file__))
# The MLflow modules the stand-ins provide (spec 13.5 plus what they need themselves).
PROVIDED_MODULES = (
    "mlflow",
    "mlflow.exceptions",
    "mlflow.protos",
    "mlflow.protos.databricks_pb2",
    "mlflow.models",
    "mlflow.models.model",
    "mlflow.models.model_config",
    "mlflow.models.signature",
    "mlflow.pyfunc",
    "mlflow.pyfunc.model",
    "mlflow.pyfunc.utils",
    "mlflow.pyfunc.utils.data_validation",
    "mlflow.types",
    "mlflow.types.schema",
    "mlflow.types.type_hints",
)

_lock = threading.Lock()
_finder: Optional["StandInFinder"] = None


class StandInFinder(importlib.abc.MetaPathFinder):
    """Finds ``mlflow`` in ``tinyserve/compat``, and its submodules through the package's
    ``__path__`` (ahead of any other finder, so nothing else can answer for them)."""

    def find_spec(
        self,
        fullname: str,
        path: Optional[Sequence[str]] = None,
        target: Optional[ModuleType] = None,
    ) -> Optional[importlib.machinery.ModuleSpec]:
        if fullname == "mlflow":
            return importlib.machinery.PathFinder.find_spec(fullname, [STAND_IN_ROOT])
        if fullname.startswith("mlflow.") and path:
            return importlib.machinery.PathFinder.find_spec(fullname, path)
        return None


def real_mlflow_available() -> bool:
    """True when a real MLflow package (not a bare directory named ``mlflow``) is importable."""
    if stand_ins_installed():
        return False
    try:
        spec = importlib.util.find_spec("mlflow")
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin is not None and spec.origin != "namespace"


def stand_ins_installed() -> bool:
    return _finder is not None


def use_mlflow_names() -> str:
    """Make ``import mlflow`` work for model code; returns ``"mlflow"`` or ``"stand-ins"``."""
    global _finder
    with _lock:
        if _finder is not None:
            return "stand-ins"
        if real_mlflow_available():
            return "mlflow"
        _finder = StandInFinder()
        sys.meta_path.insert(0, _finder)
        importlib.import_module("mlflow")
        return "stand-ins"
