"""Load an MLflow model directory without MLflow: the loaders, keyed by ``loader_module``.

``load_model`` follows MLflow 3.17's ``mlflow.pyfunc.load_model`` (spec 13.1): read MLmodel,
require the ``python_function`` flavor, put the model's ``code`` directory first on
``sys.path``, work out the effective model config, hand over to the loader named by
``loader_module``, then pick the ``predict_fn`` method and decide whether it takes ``params``.
Schema enforcement is not done here; the caller enforces before calling ``predict``.

Loading runs code from the model directory (unpickling, model code): load only model
directories you trust. Importing this package loads no third-party module; each loader module
is imported when a model needs it.
"""
from __future__ import annotations

import importlib
import inspect
import logging
import platform
import sys
from dataclasses import dataclass
from typing import Any, Callable, Optional

from tinyserve.errors import ModelLoadError
from tinyserve.flavors.common import LoadRequest, effective_model_config, warn_params_ignored
from tinyserve.mlmodel import ModelSpec, read_mlmodel
from tinyserve.requirements import warn_about_mismatches
from tinyserve.signature import Signature, parse_signature

logger = logging.getLogger("tinyserve")

FLAVOR_NAME = "python_function"
# loader_module in MLmodel -> the tinyserve module whose ``load(request)`` builds the model
LOADERS = {
    "mlflow.sklearn": "tinyserve.flavors.sklearn",
    "mlflow.pyfunc.model": "tinyserve.flavors.pyfunc",
    "mlflow.pyfunc.loaders.code_model": "tinyserve.flavors.code_model",
}
SUPPORTED = ("tinyserve serves scikit-learn models (mlflow.sklearn), custom pyfunc models "
             "(mlflow.pyfunc.model) and models from code (mlflow.pyfunc.loaders.code_model)")
EXTERNAL_MODEL_KEY = "mlflow.model.isExternal"


@dataclass
class LoadedModel:
    """A loaded model: ``predict(model_input, params)`` is MLflow's raw pyfunc call."""

    spec: ModelSpec
    signature: Optional[Signature]
    predict: Callable[[Any, Optional[dict]], Any]
    python_model: Any  # the unpickled estimator / PythonModel, for introspection
    loader_module: str = ""
    model_impl: Any = None  # the wrapper whose ``predict_fn`` method ``predict`` calls


def load_model(model_dir: str) -> LoadedModel:
    """Load the model in ``model_dir``; every user error is a one-line ``ModelLoadError``."""
    spec = read_mlmodel(model_dir)
    conf = python_function_flavor(spec)
    loader_module = conf.get("loader_module")
    module_name = LOADERS.get(loader_module) if isinstance(loader_module, str) else None
    if module_name is None:
        raise ModelLoadError(
            f"Model flavor '{loader_module}' (python_function.loader_module) is not supported: "
            f"{SUPPORTED}."
        )
    _warn_about_python_version(conf.get("python_version"))
    warn_about_mismatches(spec.path)
    add_code_directory(spec, conf)
    data = conf.get("data")
    data_path = spec.resolve(str(data)) if data else spec.path
    request = LoadRequest(spec=spec, conf=conf, data_path=data_path,
                          model_config=effective_model_config(conf.get("config")),
                          signature=parse_signature(spec.signature))
    loader = importlib.import_module(module_name)
    model_impl, python_model = loader.load(request)
    predict_fn = conf.get("predict_fn") or "predict"
    return LoadedModel(spec=spec, signature=request.signature,
                       predict=bind_predict(model_impl, str(predict_fn)),
                       python_model=python_model, loader_module=loader_module,
                       model_impl=model_impl)


def python_function_flavor(spec: ModelSpec) -> dict:
    """The ``python_function`` flavor, or a one-line error saying what the model is instead."""
    metadata = spec.metadata or {}
    if metadata.get(EXTERNAL_MODEL_KEY, False) is True:
        raise ModelLoadError("This model's artifacts are external and are not stored in the "
                             "model directory. This model cannot be loaded with MLflow.")
    conf = spec.pyfunc
    if conf is None:
        flavors = ", ".join(sorted(spec.flavors)) or "none"
        raise ModelLoadError(
            f'Model does not have the "{FLAVOR_NAME}" flavor (its flavors: {flavors}); '
            f"{SUPPORTED}."
        )
    return conf


def add_code_directory(spec: ModelSpec, conf: dict) -> None:
    """Put ``<model>/<code>`` first on ``sys.path``: ``code_paths`` modules live there."""
    code = conf.get("code")
    if not code or not isinstance(code, str):
        return
    code_path = spec.resolve(code)
    if code_path in sys.path:
        sys.path.remove(code_path)
    sys.path.insert(0, code_path)


def bind_predict(model_impl: Any, predict_fn: str) -> Callable[[Any, Optional[dict]], Any]:
    """``predict_fn`` of the loaded model; ``params`` only reach it when it declares them."""
    if not hasattr(model_impl, predict_fn):
        raise ModelLoadError(f"Model implementation is missing required {predict_fn} method.")
    method = getattr(model_impl, predict_fn)
    try:
        params_arg = inspect.signature(method).parameters.get("params")
    except (TypeError, ValueError):
        params_arg = None
    if params_arg is not None and params_arg.kind != inspect.Parameter.VAR_KEYWORD:
        def predict(model_input: Any, params: Optional[dict] = None) -> Any:
            return method(model_input, params=params)
    else:
        def predict(model_input: Any, params: Optional[dict] = None) -> Any:
            warn_params_ignored(params)
            return method(model_input)
    return predict


def _warn_about_python_version(saved: Any) -> None:
    running = platform.python_version()
    if saved is None:
        logger.warning("The specified model does not have a specified Python version. It may be "
                       "incompatible with the version of Python that is currently running: "
                       "Python %s", running)
    elif str(saved).split(".")[:2] != running.split(".")[:2]:
        logger.warning("The version of Python that the model was saved in, `Python %s`, differs "
                       "from the version of Python that is currently running, `Python %s`, and "
                       "may be incompatible", saved, running)


__all__ = ["LOADERS", "LoadedModel", "load_model"]
