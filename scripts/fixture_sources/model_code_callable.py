"""Models-from-code source of the `code_model_callable` fixture: `set_model` gets a function.

The config is read at import time through `mlflow.models.ModelConfig`, so the loader must make
the effective model config available before it runs this file.
"""
from __future__ import annotations

from mlflow.models import ModelConfig, set_model

GREETING = ModelConfig().get("greeting")


def greet(model_input):
    """Prefix every `text` value with the configured greeting."""
    return [f"{GREETING} {text}" for text in model_input["text"]]


set_model(greet)
