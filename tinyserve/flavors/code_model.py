"""``loader_module: mlflow.pyfunc.loaders.code_model``: a model defined by a Python file.

The file saved at ``<model>/<basename(model_code_path)>`` runs as a fresh module with a unique
name (so every load re-executes it). While it runs, ``mlflow.models.ModelConfig`` sees the
effective model config, and whatever it hands to ``mlflow.models.set_model`` is the model: a
PythonModel, or any callable (wrapped as a function model). Running the file runs arbitrary
code: load only trusted models. No pickle is involved, so
``MLFLOW_ALLOW_PICKLE_DESERIALIZATION`` does not apply (as in MLflow).
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import threading
import uuid
from typing import Any, Iterator, Tuple

from tinyserve.errors import ModelLoadError
from tinyserve.flavors.common import LoadRequest, one_line
from tinyserve.flavors.protocol import PythonModelWrapper
from tinyserve.requirements import install_hint

NOTHING_SET = ("If the model is logged as code, ensure the model is set using "
               "mlflow.models.set_model() within the code file code file.")
# set_model and ModelConfig talk through module globals: one model file runs at a time.
_running = threading.Lock()


def load(request: LoadRequest) -> Tuple[PythonModelWrapper, Any]:
    """Same path as ``mlflow.pyfunc.model``: MLflow shares one loader for both."""
    from tinyserve.flavors import pyfunc

    return pyfunc.load(request)


def code_path_of(request: LoadRequest) -> str:
    saved = request.conf.get("model_code_path")
    if not isinstance(saved, str) or not saved:
        raise ModelLoadError("The python_function flavor in MLmodel has an empty "
                             "'model_code_path'")
    # the saved value is the file's absolute path on the saving machine; only its name counts
    return os.path.join(request.data_path, os.path.basename(saved.replace("\\", "/")))


def run_model_code(request: LoadRequest) -> Any:
    """Execute the model file and return what it passed to ``set_model`` (MLflow names ready)."""
    import mlflow.models.model as model_module
    import mlflow.models.model_config as config_module
    from mlflow.pyfunc.model import _FunctionPythonModel

    code_path = code_path_of(request)
    config = request.model_config if request.model_config is not None else ""
    with _running:
        model_module.__mlflow_model__ = None
        config_module._set_model_config(config)
        try:
            _execute_fresh_module(code_path, request)
        finally:
            config_module._set_model_config(None)
        python_model = model_module.__mlflow_model__
        model_module.__mlflow_model__ = None
    if python_model is None:
        raise ModelLoadError(NOTHING_SET)
    if callable(python_model):
        python_model = _FunctionPythonModel(python_model, signature=request.signature)
    return python_model


def _execute_fresh_module(code_path: str, request: LoadRequest) -> None:
    if not os.path.isfile(code_path):
        raise ModelLoadError(f"Failed to import code model from {code_path}. Error: the model "
                             "code file is missing from the model directory")
    module_name = f"code_model_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(module_name, code_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        with _mock_dbutils(module.__dict__):
            spec.loader.exec_module(module)
    except ImportError as error:
        raise ModelLoadError(one_line(
            f"Failed to import code model from {code_path}. Error: {error!s}"
            + _import_hint(error, request)
        )) from error
    except Exception as error:
        raise ModelLoadError(one_line(
            f"Failed to run user code from {code_path}. Error: {error!s}. "
            "Review the stack trace for more information."
        )) from error


def _import_hint(error: ImportError, request: LoadRequest) -> str:
    name = getattr(error, "name", None)
    if not name:
        return ""
    if name == "mlflow" or name.startswith("mlflow."):
        return (" (tinyserve's MLflow stand-ins do not provide it; install MLflow next to "
                "tinyserve to serve this model: pip install mlflow)")
    return f" (install it: {install_hint(name, request.model_dir)})"


class MockDbutils:
    """MLflow injects this ``dbutils`` so Databricks notebook code runs anywhere."""

    def __init__(self, real_dbutils: Any = None) -> None:
        self.real_dbutils = real_dbutils

    def __getattr__(self, name: str) -> Any:
        try:
            if self.real_dbutils:
                return getattr(self.real_dbutils, name)
        except AttributeError:
            pass
        return MockDbutils()


@contextlib.contextmanager
def _mock_dbutils(globals_dict: dict) -> Iterator[None]:
    original_module = sys.modules.get("dbutils")
    sys.modules["dbutils"] = MockDbutils(original_module)
    original_global = globals_dict.get("dbutils")
    globals_dict["dbutils"] = MockDbutils(original_module)
    try:
        yield
    finally:
        if original_module is not None:
            sys.modules["dbutils"] = original_module
        else:
            sys.modules.pop("dbutils", None)
        if original_global is not None:
            globals_dict["dbutils"] = original_global
        else:
            globals_dict.pop("dbutils", None)
