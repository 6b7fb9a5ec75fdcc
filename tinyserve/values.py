"""How one column or one value is checked against a signature type (spec 7.3 and 7.4).

``convert_column`` is MLflow's strict scalar-column rule (``_enforce_mlflow_datatype``): exact dtype
matches pass untouched, a few "safe" widenings are cast, everything else is refused with MLflow's
reason text. ``enforce_value`` is MLflow's per-value rule for Array / Object / Map / Any cells
(``_enforce_type``), used by layer A (request parsing) and layer B (``enforce.py``).

Failures raise ``SchemaEnforcementError(reason)`` where MLflow raises an ``MlflowException``;
errors MLflow lets escape from pandas/numpy escape here too (the caller reports ``str(exc)``).
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import pandas as pd

from tinyserve.errors import SchemaEnforcementError
from tinyserve.signature import AnyType, Array, Map, Object, ValueType

# MLflow DataType -> (DataType.to_numpy(), DataType.to_pandas()).
_NUMPY_TYPE = {
    "boolean": np.dtype("bool"),
    "integer": np.dtype("int32"),
    "long": np.dtype("int64"),
    "float": np.dtype("float32"),
    "double": np.dtype("float64"),
    "string": np.dtype("str"),
    "binary": np.dtype("bytes"),
    "datetime": np.dtype("datetime64[ns]"),
}
_PANDAS_TYPE = dict(_NUMPY_TYPE, string=np.dtype("object"), binary=np.dtype("object"))
_DATETIME_NS = np.dtype("datetime64[ns]")

_MISSING_VALUES_HINT = (
    " Hint: the type mismatch is likely caused by missing values. "
    "Integer columns in python can not represent missing values and are therefore "
    "encoded as floats. The best way to avoid this problem is to infer the model "
    "schema based on a realistic data sample (training dataset) that includes missing "
    "values. Alternatively, you can declare integer columns as doubles (float64) "
    "whenever these columns may have missing values. See `Handling Integers With "
    "Missing Values <https://www.mlflow.org/docs/latest/models.html#"
    "handling-integers-with-missing-values>`_ for more details."
)


def numpy_type_of(scalar_type: str) -> np.dtype:
    """MLflow's ``DataType.to_numpy()`` for a scalar type name (``string`` -> ``<U0``)."""
    return _NUMPY_TYPE[scalar_type]


def _dtype_equals(dtype: Any, other: np.dtype) -> bool:
    try:
        return bool(dtype == other)
    except TypeError:
        return False


def _is_object(dtype: Any) -> bool:
    return isinstance(dtype, np.dtype) and dtype == np.dtype("object")


def passes_unchanged(dtype: Any, scalar_type: str) -> bool:
    """Would ``convert_column`` return a column of this dtype untouched? (no values needed)"""
    if scalar_type in ("string", "binary") and (_is_object(dtype)
                                                or isinstance(dtype, pd.StringDtype)):
        return True
    if scalar_type == "binary" and getattr(dtype, "kind", None) == "S":
        return True
    return not _is_object(dtype) and _dtype_equals(dtype, _NUMPY_TYPE[scalar_type])


def convert_column(name: Any, values: pd.Series, scalar_type: str) -> pd.Series:
    """One column against a scalar type (spec 7.3); returns the column, cast only when allowed."""
    dtype = values.dtype
    if _is_object(dtype) and scalar_type not in ("binary", "string"):
        values = values.infer_objects()
        dtype = values.dtype
    is_string_dtype = isinstance(dtype, pd.StringDtype)
    if scalar_type == "string" and (_is_object(dtype) or is_string_dtype):
        return values  # an object column may hold anything: MLflow passes it through
    if scalar_type == "binary" and is_string_dtype:
        return values
    numpy_type = _NUMPY_TYPE[scalar_type]
    if _dtype_equals(dtype, _PANDAS_TYPE[scalar_type]) or _dtype_equals(dtype, numpy_type):
        return values
    kind = getattr(dtype, "kind", None)
    if scalar_type == "binary" and kind == "S":
        return values
    if scalar_type == "datetime" and kind == "M":
        try:
            return values.astype(_DATETIME_NS)
        except TypeError as exc:
            raise SchemaEnforcementError(
                "Please ensure that the input data of datetime column only contains "
                f"timezone-naive datetime objects. Error: {exc}"
            ) from None
    if scalar_type == "datetime" and _is_object(dtype):
        try:
            return values.astype(_DATETIME_NS, errors="raise")
        except ValueError:
            raise SchemaEnforcementError(
                f"Failed to convert column {name} from type {dtype} to DataType.datetime."
            ) from None
    if scalar_type == "boolean" and _is_object(dtype):
        return values  # converting would turn None into False
    if scalar_type == "double" and _is_object(dtype):
        # MLflow's Decimal rule (``dtype == decimal.Decimal``) matches every object column.
        try:
            return pd.to_numeric(values, errors="raise")
        except ValueError:
            raise SchemaEnforcementError(
                f"Failed to convert column {name} from type {dtype} to DataType.double."
            ) from None
    if _is_upcast(dtype, numpy_type):
        return values.astype(numpy_type, errors="raise")
    if _dtype_equals(dtype, np.dtype("int64")) and scalar_type in ("float", "double") \
            and _all_zero_or_one(values):
        return values.astype(numpy_type, errors="raise")
    hint = ""
    if _dtype_equals(dtype, np.dtype("float64")) and numpy_type.kind in ("i", "u") \
            and values.hasnans and _all_whole_numbers(values):
        hint = _MISSING_VALUES_HINT
    raise SchemaEnforcementError(
        f"Incompatible input types for column {name}. "
        f"Can not safely convert {dtype} to {numpy_type}.{hint}"
    )


def _is_upcast(dtype: Any, numpy_type: np.dtype) -> bool:
    kind = getattr(dtype, "kind", None)
    if kind == numpy_type.kind:
        return dtype.itemsize <= numpy_type.itemsize
    if kind == "u" and numpy_type.kind == "i":
        return dtype.itemsize < numpy_type.itemsize
    if kind in ("i", "u") and numpy_type == np.dtype("float64"):
        return dtype.itemsize <= 6
    return False


def _all_zero_or_one(values: pd.Series) -> bool:
    array = values.to_numpy()
    return bool(((array == 0) | (array == 1)).all())


def _all_whole_numbers(values: pd.Series) -> bool:
    """MLflow's ``all(pd.isnull(x) or int(x) == x ...)``, vectorised (it stops at the first
    non-whole value and raises OverflowError at an infinity reached before one)."""
    array = values.to_numpy()
    present = ~np.isnan(array)
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(array) & (np.floor(array) == array)
    offending = np.flatnonzero(present & ~whole)
    if offending.size == 0:
        return True
    first = array[offending[0]]
    if np.isinf(first):
        raise OverflowError("cannot convert float infinity to integer")
    return False


# ---------------------------------------------------------------------------------------------
# 7.4: one value against a (possibly nested) type


def enforce_value(value: Any, value_type: ValueType, required: Optional[bool] = True) -> Any:
    """One cell/value against a type (MLflow's ``_enforce_type``); returns the converted value."""
    if isinstance(value_type, str):
        return _enforce_scalar(value, value_type, required)
    if isinstance(value_type, Array):
        return _enforce_array(value, value_type, required)
    if isinstance(value_type, Object):
        return _enforce_object(value, value_type, required)
    if isinstance(value_type, Map):
        return _enforce_map(value, value_type, required)
    if isinstance(value_type, AnyType):
        return value
    raise SchemaEnforcementError(f"Invalid data type: {value_type!r}")


def is_none_or_nan(value: Any) -> bool:
    if isinstance(value, float):
        return bool(np.isnan(value))
    return value is None or value is pd.NA or value is pd.NaT


def _enforce_scalar(value: Any, scalar_type: str, required: Optional[bool]) -> Any:
    if not required and is_none_or_nan(value):
        return None
    if not np.isscalar(value):
        raise SchemaEnforcementError(f"Expected data to be scalar, got {type(value).__name__}")
    series = pd.Series(value)
    try:
        series = convert_column("", series, scalar_type)
    except SchemaEnforcementError:
        raise SchemaEnforcementError(
            f"Failed to enforce schema of data `{value}` with dtype `{scalar_type}`"
        ) from None
    return series[0]


def _is_empty_sequence(value: Any) -> bool:
    return isinstance(value, (list, np.ndarray)) and len(value) == 0


def _enforce_array(value: Any, array_type: Array, required: Optional[bool]) -> Any:
    if not required or isinstance(array_type.items, AnyType):
        if value is None or _is_empty_sequence(value):
            return value
    if not isinstance(value, (list, np.ndarray)):
        raise SchemaEnforcementError(
            f"Expected data to be list or numpy array, got {type(value).__name__}"
        )
    items = array_type.items
    if isinstance(items, str):
        if len(value) > 0:
            converted = convert_column("", pd.Series(value), items)
            enforced: Any = converted.to_numpy(dtype=_NUMPY_TYPE[items])
        else:
            enforced = value
    else:
        enforced = [enforce_value(item, items, required=required) for item in value]
    if isinstance(value, list) and isinstance(enforced, np.ndarray):
        return enforced.tolist()
    if isinstance(value, np.ndarray) and isinstance(enforced, list):
        return np.array(enforced)
    return enforced


def _enforce_object(value: Any, object_type: Object, required: Optional[bool]) -> Any:
    if not required and (value is None or _equals_empty_dict(value)):
        return value
    if not isinstance(value, dict):
        raise SchemaEnforcementError(
            f"Failed to enforce schema of '{value}' with type '{object_type!r}'. "
            f"Expected data to be dictionary, got {type(value).__name__}"
        )
    properties = {prop.name: prop for prop in object_type.properties}
    required_names = {name for name, prop in properties.items() if prop.required}
    missing = required_names - set(value.keys())
    if missing:
        raise SchemaEnforcementError(f"Missing required properties: {missing}")
    unknown = value.keys() - properties.keys()
    if unknown:
        raise SchemaEnforcementError(
            f"Invalid properties not defined in the schema found: {unknown}"
        )
    for key, item in value.items():
        prop = properties[key]
        try:
            value[key] = enforce_value(item, prop.type, required=prop.required)
        except SchemaEnforcementError:
            raise SchemaEnforcementError(
                f"Failed to enforce schema for key `{key}`. Expected type {prop.type_name()}, "
                f"received type {type(item).__name__}"
            ) from None
    return value


def _equals_empty_dict(value: Any) -> bool:
    return isinstance(value, dict) and not value


def _enforce_map(value: Any, map_type: Map, required: Optional[bool]) -> Any:
    if (not required or isinstance(map_type.values, AnyType)) and (
        value is None or _equals_empty_dict(value)
    ):
        return value
    if not isinstance(value, dict):
        raise SchemaEnforcementError(f"Expected data to be a dict, got {type(value).__name__}")
    if not all(isinstance(key, str) for key in value):
        raise SchemaEnforcementError("Expected all keys in the map type data are string type.")
    return {key: enforce_value(item, map_type.values, required=required)
            for key, item in value.items()}

