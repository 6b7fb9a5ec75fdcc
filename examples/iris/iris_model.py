"""Iris classifier as an MLflow models-from-code pyfunc that needs only numpy and pandas.

The weights of a multinomial logistic regression live in the JSON artifact `coefficients`;
`predict` takes the arg-max of the linear class scores (the same class softmax would pick)
and returns the class names. scikit-learn is used only when the model is made
(`scripts/make_example_model.py`), never when it is loaded.
"""
from __future__ import annotations

import json

import mlflow
import numpy as np
from mlflow.pyfunc import PythonModel


class IrisModel(PythonModel):
    """Predicts setosa / versicolor / virginica from the four iris measurements."""

    def load_context(self, context):
        with open(context.artifacts["coefficients"], encoding="utf-8") as f:
            weights = json.load(f)
        self.features = list(weights["features"])
        self.classes = np.array(weights["classes"])
        self.coef = np.array(weights["coef"], dtype=float)
        self.intercept = np.array(weights["intercept"], dtype=float)

    def predict(self, context, model_input, params=None):
        x = model_input[self.features].to_numpy(dtype=float)
        scores = x @ self.coef.T + self.intercept
        return self.classes[scores.argmax(axis=1)]


mlflow.models.set_model(IrisModel())
