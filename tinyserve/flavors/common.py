"""What every loader shares: the load request, MLflow's load-time switches, one-line errors.

Loading runs code from the model directory (unpickling, model code): load only model
directories you trust. ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false`` refuses pickled and skops
models with MLflow's own messages. Failures a person can fix (a missing package, a broken
file) become ``ModelLoadError`` with one line; the original exception is chained for
``--debug``.
"""
from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from typing import Any, Dict, Optional

from tinyserve import compat
from tinyserve.errors import ModelLoadError
from tinyserve.mlmodel import ModelSpec
from tinyserve.requirements import IMPORT_TO_DISTRIBUTION, distribution_for_module, install_hint

logger = logging.getLogger("tinyserve")

PICKLE_SWITCH = "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"
INFERENCE_CONFIG_ENV = "MLFLOW_PYFUNC_INFERENCE_CONFIG"
SERVING_CONFIG_ENV = "SERVING_MODEL_CONFIG"
SKLEARN_PICKLE_DISALLOWED = (
    "Deserializing this model is disallowed because 'MLFLOW_ALLOW_PICKLE_DESERIALIZATION' "
    "is not set to 'true'. Loading a model can execute arbitrary code from the model "
    "artifact, including models saved in the 'skops' format, whose trusted-types "
    "allow-list is read from the model itself. Only load models from trusted sources; set "
    "'MLFLOW_ALLOW_PICKLE_DESERIALIZATION' to 'true' to allow loading."
)
PYFUNC_PICKLE_DISALLOWED = (
    "Deserializing model using pickle is disallowed, but this model is saved "
    "in cloudpickle format. The recommended way is to save the model as "
    "models-from-code artifacts, see "
    "https://mlflow.org/docs/latest/ml/model/models-from-code/ for details. "
    "Another workaround is to set environment "
    "variable 'MLFLOW_ALLOW_PICKLE_DESERIALIZATION' to 'true' to allow "
    "deserializing model using pickle."
)
_MISSING_ATTRIBUTE = re.compile(r"Can't get attribute '([^']+)' on <module '([^']+)'")


@dataclass(frozen=True)
class LoadRequest:
    """Everything a loader needs, resolved once by ``tinyserve.flavors.load_model``."""

    spec: ModelSpec
    conf: Dict[str, Any]  # the python_function flavor
    data_path: str  # <model>/<data> if the flavor names one, else the model directory
    model_config: Optional[Dict[str, Any]]  # effective config (13.1 step 6), None if empty
    signature: Any  # tinyserve.signature.Signature or None

    @property
    def model_dir(self) -> str:
        return self.spec.path


def warn_params_ignored(params: Optional[dict]) -> None:
    """MLflow's warning when a model's predict does not declare ``params``."""
    if params:
        logger.warning("The underlying model does not support passing additional parameters to "
                       "the predict function. `params` %s will be ignored.", params)


def one_line(text: str) -> str:
    """Collapse a message onto one line: the CLI prints it as the whole story."""
    return " ".join(str(text).split())


def pickle_deserialization_allowed() -> bool:
    """MLflow's boolean env var: unset -> true; ``true/false/1/0`` in any case; else an error."""
    value = os.environ.get(PICKLE_SWITCH)
    if value is None:
        return True
    if value.lower() not in ("true", "false", "1", "0"):
        raise ModelLoadError(
            f"{PICKLE_SWITCH} value must be one of ['true', 'false', '1', '0'] "
            f"(case-insensitive), but got {value}"
        )
    return value.lower() in ("true", "1")


def _json_object_from_env(name: str) -> Optional[Dict[str, Any]]:
    text = os.environ.get(name)
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError as error:
        raise ModelLoadError(f"{name} must hold a JSON object; it is not valid JSON: {error}"
                             ) from None
    if not isinstance(value, dict):
        raise ModelLoadError(f"{name} must hold a JSON object, got {type(value).__name__}")
    return value


def effective_model_config(saved: Any) -> Optional[Dict[str, Any]]:
    """The saved ``config`` with overrides from MLFLOW_PYFUNC_INFERENCE_CONFIG, then
    SERVING_MODEL_CONFIG; only keys the saved config has are applied. None when empty."""
    overrides: Dict[str, Any] = {}
    for name in (INFERENCE_CONFIG_ENV, SERVING_CONFIG_ENV):
        overrides.update(_json_object_from_env(name) or {})
    if not overrides:
        return saved or None
    if not saved or not isinstance(saved, dict):
        logger.warning(
            "Argument(s) %s were ignored since the model's ``pyfunc`` flavor doesn't accept "
            "model configuration. Use ``model_config`` when logging the model to allow it.",
            ", ".join(overrides),
        )
        return None
    ignored = [key for key in overrides if key not in saved]
    if ignored:
        logger.warning(
            "Argument(s) %s were ignored since they are not valid keys in the corresponding "
            "section of the ``pyfunc`` flavor. Use ``model_config`` when logging the model to "
            "include the keys you plan to indicate. Current allowed configuration includes %s",
            ", ".join(ignored), ", ".join(saved),
        )
    config = dict(saved)
    config.update({key: value for key, value in overrides.items() if key in saved})
    return config or None


def missing_module_error(error: ImportError, what: str, model_dir: str) -> ModelLoadError:
    """A module the model needs is not installed: name the package to install."""
    name = getattr(error, "name", None) or ""
    if name == "mlflow" or name.startswith("mlflow."):
        return needs_mlflow_error(name, what)
    if not name:
        return ModelLoadError(one_line(f"Cannot load {what}: {type(error).__name__}: {error}"))
    distribution = distribution_for_module(name)
    top = name.split(".")[0]
    module = next((key for key in IMPORT_TO_DISTRIBUTION
                   if "." in key and (name + ".").startswith(key + ".")), top)
    package = (f"the package '{distribution}'" if distribution == module
               else f"the package '{distribution}' (module '{module}')")
    return ModelLoadError(one_line(
        f"Cannot load {what}: it needs {package}, which is not installed here; "
        f"install it: {install_hint(name, model_dir)}"
    ))


def needs_mlflow_error(name: str, what: str) -> ModelLoadError:
    return ModelLoadError(one_line(
        f"Cannot load {what}: it uses MLflow's '{name}', which tinyserve's MLflow stand-ins do "
        "not provide (tinyserve supports scikit-learn models, custom pyfunc models and models "
        "from code); install MLflow next to tinyserve to serve it: pip install mlflow"
    ))


def load_failure(error: BaseException, what: str, model_dir: str) -> ModelLoadError:
    """Turn a failure while reading a model file into a one-line ``ModelLoadError``."""
    if isinstance(error, ModelLoadError):
        return error
    if isinstance(error, ImportError):
        return missing_module_error(error, what, model_dir)
    if isinstance(error, FileNotFoundError):
        return ModelLoadError(one_line(f"Cannot load {what}: file not found: {error.filename}"))
    if isinstance(error, AttributeError):
        match = _MISSING_ATTRIBUTE.search(str(error))
        if match:
            attribute, module = match.groups()
            if compat.stand_ins_installed() and (module == "mlflow" or
                                                 module.startswith("mlflow.")):
                return needs_mlflow_error(f"{module}.{attribute}", what)
            return ModelLoadError(one_line(
                f"Cannot load {what}: the installed '{distribution_for_module(module)}' has no "
                f"'{module}.{attribute}'; install the version the model was saved with: "
                f"{install_hint(module, model_dir)}"
            ))
    return ModelLoadError(one_line(f"Cannot load {what}: {type(error).__name__}: {error}"))
