"""Stand-in for ``mlflow.models.model_config``: ``ModelConfig`` for models-from-code files.

While the loader runs a models-from-code file, ``__mlflow_model_config__`` holds the effective
model config (a dict), or ``""`` when the model was saved without one; outside of loading it
is ``None`` and ``development_config`` applies, as in MLflow.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Optional, Union

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

__mlflow_model_config__ = None


class ModelConfig:
    """Read the model configuration: the logged config at load time, else the development one."""

    def __init__(self, *, development_config: Optional[Union[str, Dict[str, Any]]] = None
                 ) -> None:
        config = globals().get("__mlflow_model_config__", None)
        self.config = config if config is not None else development_config
        if not self.config:
            raise FileNotFoundError(
                "Config file is not provided which is needed to load the model. "
                "Please provide a valid path."
            )
        if not isinstance(self.config, dict) and not os.path.isfile(self.config):
            raise FileNotFoundError(f"Config file '{self.config}' not found.")

    def _read_config(self) -> Any:
        if isinstance(self.config, dict):
            return self.config
        try:
            import yaml
        except ImportError:
            raise MlflowException(
                "Reading a YAML model config file needs PyYAML: pip install PyYAML",
                error_code=INVALID_PARAMETER_VALUE,
            ) from None
        with open(self.config) as file:
            try:
                return yaml.safe_load(file)
            except yaml.YAMLError as error:
                raise MlflowException(
                    f"Error parsing YAML file: {error}", error_code=INVALID_PARAMETER_VALUE
                )

    def to_dict(self) -> Any:
        """The configuration as a dictionary."""
        return self._read_config()

    def get(self, key: str) -> Any:
        """The value of a top-level key of the configuration."""
        config_data = self._read_config()
        if config_data and key in config_data:
            return config_data[key]
        raise KeyError(f"Key '{key}' not found in configuration: {config_data}.")


def _set_model_config(model_config: Any) -> None:
    globals()["__mlflow_model_config__"] = model_config
