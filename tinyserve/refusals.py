"""The deliberate refusals of layer A, and MLflow's wording for a failed column cast.

Where MLflow's lenient pre-cast would silently change a value, tinyserve refuses it with a 400
naming the column (a deliberate difference): integers out of range for an integer column
(MLflow wraps them), non-whole numbers such as 2.7 for an integer column (MLflow truncates),
and the strings "true"/"false" (any case) for a boolean column (MLflow turns both into True).
The checks run after MLflow's own conversions succeed, so they never replace an error MLflow
itself would give.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import pandas as pd

from tinyserve.errors import ScoringError
from tinyserve.signature import NUMPY_DTYPE_OF, TensorSpec

OBJECT_LABEL = "<class 'object'>"  # how MLflow prints DataType.string/binary.to_pandas()
BOOLEAN_WORDS = frozenset(("true", "false"))


class PendingChecks(list):
    """Casts that succeeded but may have changed a value silently.

    They are checked only once every MLflow conversion of the request succeeded, so a
    deliberate refusal never hides an error MLflow itself would report.
    """

    def add(self, column: Any, label: str, values: Any, target: np.dtype) -> None:
        if target.kind in "biu":
            self.append((column, label, values, target))

    def raise_first_refusal(self) -> None:
        for column, label, values, target in self:
            probe = _probe(values)
            reason = None if probe is None else refusal(probe, target)
            if reason is not None:
                raise conversion_error(column, label, reason)


def _probe(values: Any) -> Optional[np.ndarray]:
    """The values before the cast, as a numpy array to inspect (None if that is impossible)."""
    if isinstance(values, pd.Series):
        return values.to_numpy(dtype=None if isinstance(values.dtype, np.dtype) else object)
    if isinstance(values, pd.DataFrame):  # duplicate column labels
        numpy_backed = all(isinstance(dtype, np.dtype) for dtype in values.dtypes)
        return values.to_numpy(dtype=None if numpy_backed else object)
    try:
        return np.asarray(values)
    except ValueError:
        return None


def refusal(values: np.ndarray, target: np.dtype) -> Optional[str]:
    """Why casting ``values`` to ``target`` silently changes a value, or None."""
    kind = values.dtype.kind
    if target.kind == "b":
        if kind in "OU":
            for value in values.ravel():
                if isinstance(value, str) and value.strip().lower() in BOOLEAN_WORDS:
                    return f"the string {str(value)!r} is not a boolean; send JSON true or false"
        return None
    if kind == "b" or np.can_cast(values.dtype, target):
        return None
    info = np.iinfo(target)
    if kind in "iu":
        outside = values[(values < info.min) | (values > info.max)]
        return _out_of_range(int(outside.flat[0]), target) if outside.size else None
    if kind in "OU":  # mixed values: only the floats among them can be truncated
        floats = [float(v) for v in values.ravel() if _is_float_like(v)]
        values, kind = np.array(floats, dtype=np.float64), "f"
    if kind != "f":
        return None
    finite = values[np.isfinite(values)]
    fractional = finite[finite != np.trunc(finite)]
    if fractional.size:
        return f"value {float(fractional[0])!r} is not a whole number and would be truncated"
    outside = finite[(finite < float(info.min)) | (finite >= float(info.max + 1))]
    return _out_of_range(float(outside[0]), target) if outside.size else None


def _is_float_like(value: Any) -> bool:
    if isinstance(value, (float, np.floating)):
        return True
    if isinstance(value, str) and any(c in value for c in ".eE"):
        try:  # a float numpy turned into text inside a mixed array (a real "2.5" fails the cast)
            float(value)
        except ValueError:
            return False
        return True
    return False


def _out_of_range(value: Any, target: np.dtype) -> str:
    return f"value {value!r} is out of range for {target}"


def conversion_error(column: Any, label: str, error_text: str) -> ScoringError:
    return ScoringError(
        "Invalid input. Data is not compatible with model signature. "
        f"Failed to convert column {column} to type '{label}'. Error: '{error_text}'"
    )


def cast_label(spec: Any) -> str:
    """The type MLflow names in "Failed to convert column c to type '<label>'"."""
    if isinstance(spec, TensorSpec):
        return str(np.dtype(spec.dtype))
    if isinstance(spec.type, str):
        return OBJECT_LABEL if spec.type in ("string", "binary") else NUMPY_DTYPE_OF[spec.type]
    return repr(spec.type)
