"""Turn a model's predictions into the JSON body MLflow's scoring server would send.

MLflow converts the top-level prediction (ndarray -> ``tolist()``, DataFrame/Series -> records)
and writes it with ``json.dump`` and its ``NumpyEncoder`` fallback (spec section 9). tinyserve
produces the same bytes with one deliberate difference: NaN, Infinity and -Infinity become
``null`` so the body is always valid JSON.

Speed matters here (1-row and 100k-row responses alike), so the C encoder runs with
``allow_nan=False``: finite data is written in one pass, and only when it refuses a non-finite
float is the structure walked to replace those values. numpy and pandas are looked up in
``sys.modules`` rather than imported: a prediction can only be a numpy or pandas object if they
are already loaded.
"""
from __future__ import annotations

import base64
import datetime
import json
import math
import sys
from typing import Any, Callable, Dict, List, Optional

# Non-finite dict keys stay strings, as Python's json writes them; only values become null.
_NON_FINITE_KEY_TEXT = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
_JSON_NATIVE = (str, int, type(None))


def _not_serializable(value: Any) -> TypeError:
    return TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _fallback(value: Any) -> Any:
    """NumpyEncoder.default: the JSON-able stand-in for a value json cannot write itself."""
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        if isinstance(value, numpy.ndarray):
            return value.tolist()  # object arrays element-wise, bytes elements base64 below
        if isinstance(value, numpy.generic):
            native = value.item()
            if isinstance(native, numpy.generic):  # longdouble, clongdouble: no Python twin
                raise _not_serializable(value)
            return native
    if isinstance(value, (bytes, bytearray)):
        return base64.encodebytes(value).decode("ascii")
    if isinstance(value, (datetime.date, datetime.time)):  # datetime, pandas Timestamp and NaT
        return value.isoformat()
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and isinstance(value, getattr(pydantic, "BaseModel", ())):
        return value.model_dump()
    raise _not_serializable(value)


_ENCODER = json.JSONEncoder(
    ensure_ascii=True, allow_nan=False, separators=(", ", ": "), default=_fallback
)


def _finite_key(key: Any) -> Any:
    if isinstance(key, float) and not math.isfinite(key):
        return _NON_FINITE_KEY_TEXT[repr(float(key))]
    return key


def _without_non_finite(value: Any, open_containers: set) -> Any:
    """A copy of ``value`` with non-finite floats as None, converting fallback types on the way."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, _JSON_NATIVE):
        return value
    if isinstance(value, (dict, list, tuple)):
        marker = id(value)
        if marker in open_containers:
            raise TypeError("Circular reference detected")
        open_containers.add(marker)
        if isinstance(value, dict):
            copy: Any = {
                _finite_key(key): _without_non_finite(item, open_containers) for key, item in value.items()
            }
        else:
            copy = [_without_non_finite(item, open_containers) for item in value]
        open_containers.discard(marker)
        return copy
    try:
        converted = _fallback(value)
    except TypeError:
        return value  # the encoder raises the same TypeError when it reaches it
    return _without_non_finite(converted, open_containers)


def dumps(value: Any) -> str:
    try:
        return _ENCODER.encode(value)
    except ValueError as exc:
        if "Circular reference" in str(exc):
            raise TypeError("Circular reference detected") from None
        if not str(exc).startswith("Out of range float values"):
            raise
    return _ENCODER.encode(_without_non_finite(value, set()))


# --- top-level conversion (MLflow's _get_jsonable_obj) --------------------------------------


def array_to_list(array: Any) -> list:
    """``ndarray.tolist()``, with non-finite floats already None (cheap with numpy at hand)."""
    numpy = sys.modules["numpy"]
    if array.dtype.kind == "f" and array.size and not numpy.isfinite(array).all():
        boxed = array.astype(object)
        boxed[~numpy.isfinite(array)] = None
        return boxed.tolist()
    return array.tolist()


def _box_native(value: Any) -> Any:
    """pandas' ``maybe_box_native`` (applied by ``to_dict`` to object and extension columns)."""
    if type(value) is str:
        return value
    numpy = sys.modules["numpy"]
    pandas = sys.modules["pandas"]
    if isinstance(value, (float, numpy.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, numpy.datetime64):
        return pandas.Timestamp(value)
    if isinstance(value, numpy.timedelta64):  # before integers: it subclasses numpy.integer
        return pandas.Timedelta(value)
    if isinstance(value, (bool, numpy.bool_)):
        return bool(value)
    if isinstance(value, (int, numpy.integer)):
        return int(value)
    if value is pandas.NA:
        return None
    return value


def column_values(column: Any) -> list:
    """One column as DataFrame.to_dict(orient="records") would give its values."""
    numpy = sys.modules["numpy"]
    dtype = column.dtype
    if isinstance(dtype, numpy.dtype) and dtype.kind in "biuf":
        return array_to_list(column.to_numpy())
    values = list(column)  # Timestamps for datetime64, like DataFrame.itertuples
    if dtype == object or not isinstance(dtype, numpy.dtype):
        values = [_box_native(value) for value in values]
    return values


def _numeric_frame_json(frame: Any) -> Optional[str]:
    """The records JSON of an all-numeric frame, written column by column (no per-row dicts).

    Each column is encoded once; its tokens (numbers, ``true``/``false``, ``null``) are split
    on ``", "`` — safe because no token holds that text — and poured into a row template.
    None when the frame does not qualify (the general path then handles it).
    """
    numpy = sys.modules["numpy"]
    columns = frame.columns
    if len(columns) == 0 or not columns.is_unique:
        return None
    if not all(isinstance(dtype, numpy.dtype) and dtype.kind in "biuf" for dtype in frame.dtypes):
        return None
    if len(frame) == 0:
        return "[]"
    try:  # encoding {key: 0} applies json's key rules (int/float/bool/None keys, TypeError otherwise)
        keys = [_ENCODER.encode({key: 0})[1:-4] for key in columns.tolist()]
    except (TypeError, ValueError):
        return None
    row = "{" + ", ".join(key.replace("%", "%%") + ": %s" for key in keys) + "}"
    tokens = [
        _ENCODER.encode(array_to_list(frame.iloc[:, position].to_numpy()))[1:-1].split(", ")
        for position in range(len(keys))
    ]
    return "[" + ", ".join([row % values for values in zip(*tokens)]) + "]"


def _frame_records(frame: Any) -> List[Dict[Any, Any]]:
    columns = frame.columns.tolist()
    if not columns:
        return [{} for _ in range(len(frame))]
    values = [column_values(frame.iloc[:, position]) for position in range(len(columns))]
    return [dict(zip(columns, row)) for row in zip(*values)]


def _series_records(series: Any) -> List[Dict[Any, Any]]:
    return _frame_records(sys.modules["pandas"].DataFrame(series))


def _top_level_converter(predictions: Any) -> Callable[[Any], Any]:
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(predictions, numpy.ndarray):
        return array_to_list
    pandas = sys.modules.get("pandas")
    if pandas is not None:
        if isinstance(predictions, pandas.DataFrame):
            return _frame_records
        if isinstance(predictions, pandas.Series):
            return _series_records
    return lambda value: value


def encode_predictions(predictions: Any, wrap: bool = True) -> bytes:
    """The response body: ``{"predictions": ...}``, or the bare value for unified-LLM requests.

    Raises TypeError naming the type when a value cannot be written (set, Decimal, timedelta,
    complex, a DataFrame nested in a list, a tuple dict key, ...).
    """
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(predictions, (pandas.DataFrame, pandas.Series)):
        frame = predictions if isinstance(predictions, pandas.DataFrame) else pandas.DataFrame(predictions)
        fragment = _numeric_frame_json(frame)
        if fragment is not None:
            text = '{"predictions": ' + fragment + "}" if wrap else fragment
            return text.encode("ascii")
    converted = _top_level_converter(predictions)(predictions)
    return dumps({"predictions": converted} if wrap else converted).encode("ascii")
