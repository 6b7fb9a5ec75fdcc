"""Stand-in for ``mlflow.pyfunc.utils``: the ``@pyfunc`` input-validation decorator."""
from __future__ import annotations

from mlflow.pyfunc.utils.data_validation import pyfunc

__all__ = ["pyfunc"]
