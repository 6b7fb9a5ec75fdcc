"""``loader_module: mlflow.sklearn``: a scikit-learn estimator saved as skops or a pickle.

MLflow 3.17 saves estimators in the skops format by default (``serialization_format: skops``);
those need the ``skops`` package (``pip install 'tinyserve[sklearn]'``). ``pickle`` and
``cloudpickle`` files are read natively. Either way scikit-learn itself must be installed: the
file names its classes. Unpickling runs code from the model file: load only trusted models.
"""
from __future__ import annotations

import os
import pickle
from typing import Any, Optional, Tuple

from tinyserve import compat
from tinyserve.errors import ModelLoadError
from tinyserve.flavors.common import (
    SKLEARN_PICKLE_DISALLOWED,
    LoadRequest,
    load_failure,
    logger,
    missing_module_error,
    one_line,
    pickle_deserialization_allowed,
)

SUPPORTED_FORMATS = ["skops", "pickle", "cloudpickle"]
# Estimator methods MLflow exposes next to ``predict``, for ``python_function.predict_fn``.
CUSTOM_PREDICT_FNS = ("predict_proba", "predict_log_proba", "predict_joint_log_proba", "score")
SKOPS_MISSING = ("This model is saved in the skops format (MLflow's default for scikit-learn); "
                 "install the 'sklearn' extra to load it: pip install 'tinyserve[sklearn]'")


class SklearnModelWrapper:
    """MLflow's ``_SklearnModelWrapper``: ``predict(data, params=None)`` ignores params."""

    def __init__(self, sklearn_model: Any) -> None:
        self.sklearn_model = sklearn_model
        for name in CUSTOM_PREDICT_FNS:
            method = getattr(sklearn_model, name, None)
            if method:
                setattr(self, name, method)

    def predict(self, data: Any, params: Optional[dict] = None) -> Any:
        return self.sklearn_model.predict(data)


def serialization_settings(request: LoadRequest) -> Tuple[str, Any]:
    """``(format, skops_trusted_types)`` from the sklearn flavor; no flavor means ``pickle``."""
    flavor = request.spec.flavors.get("sklearn")
    if not isinstance(flavor, dict):
        logger.warning("Could not find scikit-learn flavor configuration during model loading "
                       "process. Assuming 'pickle' serialization format.")
        return "pickle", None
    return flavor.get("serialization_format", "pickle"), flavor.get("skops_trusted_types")


def load(request: LoadRequest) -> Tuple[SklearnModelWrapper, Any]:
    """Load the estimator named by ``python_function.model_path`` (or ``data``, if a file)."""
    serialization_format, trusted_types = serialization_settings(request)
    path = request.data_path
    if not os.path.isfile(path):
        model_path = request.conf.get("model_path")
        if not isinstance(model_path, str):
            raise ModelLoadError("The python_function flavor in MLmodel has no 'model_path' "
                                 "naming the scikit-learn model file")
        path = os.path.join(path, model_path)
    estimator = load_estimator(path, serialization_format, trusted_types, request.model_dir)
    return SklearnModelWrapper(estimator), estimator


def load_estimator(path: str, serialization_format: Any, trusted_types: Any,
                   model_dir: str) -> Any:
    """Read one serialized estimator as MLflow's ``_load_model_from_local_file`` does."""
    if serialization_format not in SUPPORTED_FORMATS:
        raise ModelLoadError(
            f"Unrecognized serialization format: {serialization_format}. Please specify one"
            f" of the following supported formats: {SUPPORTED_FORMATS}."
        )
    if not pickle_deserialization_allowed():
        raise ModelLoadError(SKLEARN_PICKLE_DISALLOWED)
    what = f"the scikit-learn model {os.path.relpath(path, model_dir)}"
    if serialization_format == "skops":
        return _load_skops(path, trusted_types, what, model_dir)
    try:
        return _unpickle(path, serialization_format)
    except Exception as error:
        raise load_failure(error, what, model_dir) from error


def _unpickle(path: str, serialization_format: str) -> Any:
    """Unpickle; a custom estimator naming MLflow (rare) gets MLflow's names and a retry."""
    try:
        with open(path, "rb") as handle:
            return _read_pickle(handle, serialization_format)
    except ImportError as error:
        name = getattr(error, "name", None) or ""
        if not (name == "mlflow" or name.startswith("mlflow.")) or compat.stand_ins_installed():
            raise
        if compat.use_mlflow_names() != "stand-ins":
            raise
    with open(path, "rb") as handle:
        return _read_pickle(handle, serialization_format)


def _read_pickle(handle: Any, serialization_format: str) -> Any:
    if serialization_format == "pickle":
        return pickle.load(handle)
    import cloudpickle

    return cloudpickle.load(handle)


def _load_skops(path: str, trusted_types: Any, what: str, model_dir: str) -> Any:
    try:
        import skops.io
        from skops.io.exceptions import UntrustedTypesFoundException
    except ImportError as error:
        if (getattr(error, "name", None) or "skops").split(".")[0] == "skops":
            raise ModelLoadError(SKOPS_MISSING) from error
        raise missing_module_error(error, what, model_dir) from error
    try:
        return skops.io.load(path, trusted=trusted_types)
    except UntrustedTypesFoundException as error:
        raise ModelLoadError(one_line(
            f"Cannot load {what}: skops refuses types the model does not trust ({error}); "
            "MLflow refuses it too. If you trust this model, list those types under "
            "flavors.sklearn.skops_trusted_types in its MLmodel file"
        )) from error
    except Exception as error:
        raise load_failure(error, what, model_dir) from error
