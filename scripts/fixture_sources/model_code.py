"""Models-from-code source of the `code_model` fixture (copied to the model root).

Multiplies the length of each `text` value by `factor` from the model config, read through
`context.model_config` in `load_context`.
"""
from __future__ import annotations

import mlflow
from mlflow.pyfunc import PythonModel


class TextLengthModel(PythonModel):
    """Returns len(text) * factor for every row."""

    def load_context(self, context):
        self.factor = int(context.model_config["factor"])

    def predict(self, context, model_input, params=None):
        return [len(str(text)) * self.factor for text in model_input["text"]]


mlflow.models.set_model(TextLengthModel())
