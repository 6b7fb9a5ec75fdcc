"""Stand-in for ``mlflow.models``: ``set_model`` and ``ModelConfig`` for models from code."""
from __future__ import annotations

from mlflow.models import model, model_config, signature  # noqa: F401
from mlflow.models.model import set_model
from mlflow.models.model_config import ModelConfig
from mlflow.models.signature import ModelSignature

__all__ = ["ModelConfig", "ModelSignature", "model", "model_config", "set_model", "signature"]
