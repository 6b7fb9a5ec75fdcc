"""A PythonModel class importable from a `code_paths` module (fixture `pyfunc_code_ref`).

cloudpickle pickles such a class *by reference* (`ref_models.CodeRefModel`), so the pickle
holds no code: the loader must put `<model>/code` on `sys.path` before unpickling.
"""
from __future__ import annotations

from mlflow.pyfunc import PythonModel


class CodeRefModel(PythonModel):
    """Reports its own import location and how many rows it received."""

    def predict(self, context, model_input, params=None):
        return {"class": f"{type(self).__module__}.{type(self).__qualname__}",
                "rows": len(model_input)}
