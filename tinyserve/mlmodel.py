"""Find and read a model directory's ``MLmodel`` file into a ``ModelSpec``.

The YAML itself is read by ``tinyserve.yaml_subset`` (no PyYAML needed).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

from tinyserve.errors import ModelLoadError
from tinyserve.yaml_subset import MLmodelSyntaxError, parse_yaml

__all__ = ["MLMODEL_FILE_NAME", "MLmodelSyntaxError", "ModelSpec", "parse_yaml", "read_mlmodel"]

MLMODEL_FILE_NAME = "MLmodel"


# --- the model directory ------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """A model directory and its parsed MLmodel; properties name the keys the server uses."""

    path: str
    data: dict

    def _mapping(self, key: str, within: Optional[dict] = None) -> Optional[dict]:
        value = (self.data if within is None else within).get(key)
        return value if isinstance(value, dict) else None

    @property
    def flavors(self) -> dict:
        return self._mapping("flavors") or {}

    @property
    def pyfunc(self) -> Optional[dict]:
        return self._mapping("python_function", self.flavors)

    @property
    def loader_module(self) -> Optional[str]:
        module = (self.pyfunc or {}).get("loader_module")
        return module if isinstance(module, str) else None

    @property
    def signature(self) -> Optional[dict]:
        return self._mapping("signature")

    @property
    def is_signature_from_type_hint(self) -> bool:
        return self.data.get("is_signature_from_type_hint") is True

    @property
    def saved_input_example_info(self) -> Optional[dict]:
        return self._mapping("saved_input_example_info")

    @property
    def mlflow_version(self) -> Optional[str]:
        version = self.data.get("mlflow_version")
        return None if version is None else str(version)

    @property
    def metadata(self) -> Optional[dict]:
        return self._mapping("metadata")

    def resolve(self, relative: str) -> str:
        """The absolute path of ``relative`` inside the model directory."""
        return os.path.join(self.path, *relative.replace("\\", "/").split("/"))


def read_mlmodel(model_dir: str) -> ModelSpec:
    """Read ``<model_dir>/MLmodel`` (or the MLmodel file given directly) into a ModelSpec."""
    model_dir = os.path.abspath(os.fspath(model_dir))
    if os.path.isfile(model_dir) and os.path.basename(model_dir) == MLMODEL_FILE_NAME:
        model_dir = os.path.dirname(model_dir)
    if not os.path.exists(model_dir):
        raise ModelLoadError(f"Model directory does not exist: {model_dir}")
    if not os.path.isdir(model_dir):
        raise ModelLoadError(f"Model path is not a directory or an MLmodel file: {model_dir}")
    mlmodel_path = os.path.join(model_dir, MLMODEL_FILE_NAME)
    if not os.path.isfile(mlmodel_path):
        raise ModelLoadError(f"No {MLMODEL_FILE_NAME} file found in {model_dir}")
    try:
        with open(mlmodel_path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"Cannot read {mlmodel_path}: {exc}") from None
    data = parse_yaml(text, source=mlmodel_path)
    if not isinstance(data, dict):
        raise ModelLoadError(f"{mlmodel_path} does not hold a YAML mapping at the top level")
    return ModelSpec(path=model_dir, data=data)
