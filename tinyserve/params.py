"""Inference params checked against the signature's params schema (spec section 8).

MLflow's ``_enforce_params_schema``: without a params schema any non-empty params are dropped
(with a warning); with one, unknown keys are dropped, known ones validated and converted, missing
ones defaulted, and every invalid param is reported together in one message.

Failures raise ``ParamsError(message)``; ``message`` is MLflow's text after ``\\nError: ``.
Errors MLflow lets escape unwrapped (numpy failing on a ragged list) escape here too.
"""
from __future__ import annotations

import builtins
import copy
import datetime as _dt
import logging
from typing import Any, Optional

import numpy as np

from tinyserve.errors import ParamsError, SchemaEnforcementError
from tinyserve.signature import Object, ParamSchema, ParamSpec, type_str
from tinyserve.values import enforce_value

_logger = logging.getLogger("tinyserve")

# DataType -> (to_numpy(), to_pandas(), to_python()); ``type(value) in`` these decides a match,
# exactly as MLflow's ``DataType.check_type`` (numpy dtypes compare equal to Python types).
_TYPES_OF = {
    "boolean": (np.dtype("bool"), np.dtype("bool"), bool),
    "integer": (np.dtype("int32"), np.dtype("int32"), int),
    "long": (np.dtype("int64"), np.dtype("int64"), int),
    "float": (np.dtype("float32"), np.dtype("float32"), builtins.float),
    "double": (np.dtype("float64"), np.dtype("float64"), builtins.float),
    "string": (np.dtype("str"), object, str),
    "datetime": (np.dtype("datetime64[ns]"), np.dtype("datetime64[ns]"), _dt.date,
                 np.datetime64, _dt.datetime),
}
# param type -> the other types whose values it accepts (converted with the Python type).
_WIDENINGS = {
    "long": ("integer",),
    "float": ("integer", "long"),
    "double": ("integer", "long", "float"),
}


def enforce_params(params: Any, schema: Optional[ParamSchema]) -> Optional[dict]:
    """The params the model receives: None / {} / a dict with every schema param (8.1, 8.2)."""
    if schema is None:
        if params is None or (isinstance(params, dict) and not params):
            return params
        ignored = (f"Ignoring provided params: {list(params.keys())}" if isinstance(params, dict)
                   else "Ignoring invalid params (not a dictionary).")
        _logger.warning(
            "`params` can only be specified at inference time if the model signature defines a "
            "params schema. This model does not define a params schema. %s", ignored,
        )
        return {}
    params = {} if params is None else params
    if not isinstance(params, dict):
        raise ParamsError(f"Parameters must be a dictionary. Got type '{type(params).__name__}'.")
    if any(not isinstance(key, str) for key in params):
        params = {str(key): value for key, value in params.items()}
    allowed = {spec.name for spec in schema.params}
    ignored_keys = set(params) - allowed
    if ignored_keys:
        _logger.warning(
            "Unrecognized params %s are ignored for inference. Supported params are: %s. "
            "To enable them, please add corresponding schema in ModelSignature.",
            list(ignored_keys), allowed,
        )
    result = {key: value for key, value in params.items() if key in allowed}
    invalid = set()
    for spec in schema.params:
        if spec.name in result:
            try:
                result[spec.name] = validate_param(result[spec.name], spec)
            except ParamsError as exc:
                invalid.add((spec.name, exc.message))
        else:
            result[spec.name] = spec.default
    if invalid:
        raise ParamsError(f"Invalid parameters found: {invalid!r}")
    return result


def _is_1d_array(value: Any) -> bool:
    return isinstance(value, (list, np.ndarray)) and np.array(value).ndim == 1


def validate_param(value: Any, spec: ParamSpec) -> Any:
    """One param value against its spec (MLflow's ``ParamSpec.validate_type_and_shape``)."""
    if spec.shape == (-1,) and not _is_1d_array(value):
        raise ParamsError(
            f"Value must be a 1D array with shape (-1,) for param {spec!r}, "
            f"received {type(value).__name__} with ndim {np.array(value).ndim}"
        )
    try:
        if spec.shape is None:
            if isinstance(spec.type, Object):
                # validated on a copy; the model gets the original JSON value (MLflow does so)
                enforce_value(copy.deepcopy(value), spec.type)
                return value
            return convert_param_value(value, spec.type)
        if spec.shape == (-1,):
            return [convert_param_value(item, spec.type) for item in value]
    except Exception as exc:
        raise ParamsError(
            f"Failed to validate type and shape for {spec!r}, error: {_message_of(exc)}"
        ) from None
    raise ParamsError(
        "Shape must be None for scalar or dictionary value, or (-1,) for 1D array value "
        f"for ParamSpec {spec!r}), received {spec.shape}"
    )


def _message_of(exc: Exception) -> str:
    if isinstance(exc, ParamsError):
        return exc.message
    if isinstance(exc, SchemaEnforcementError):
        return exc.reason
    return str(exc)


def _matches(param_type: str, value: Any) -> bool:
    return type(value) in _TYPES_OF[param_type]


def convert_param_value(value: Any, param_type: Any) -> Any:
    """One scalar param value -> Python value (MLflow's ``_enforce_param_datatype``)."""
    if value is None:
        return None
    if param_type == "datetime":
        try:
            converted = np.datetime64(value).item()
        except ValueError:
            raise ParamsError(
                f"Failed to convert value `{value}` from type `{type(value)}` to "
                "`DataType.datetime`"
            ) from None
        if isinstance(converted, int):
            raise ParamsError(
                "Failed to convert value to `DataType.datetime`. It must be convertible to "
                f"datetime.date/datetime, got `{value}`"
            )
        return converted
    if not np.isscalar(value):
        raise ParamsError(
            f"Value must be a scalar for type `{type_str(param_type)}`, got `{value}`"
        )
    if isinstance(param_type, Object):
        raise AttributeError("'Object' object has no attribute 'to_numpy'")
    python_type = _TYPES_OF[param_type][2]
    if _matches(param_type, value):
        return python_type(value)
    if any(_matches(other, value) for other in _WIDENINGS.get(param_type, ())):
        try:
            return python_type(value)
        except ValueError:
            raise ParamsError(
                f"Failed to convert value `{value}` from type `{type(value)}` to "
                f"`{type_str(param_type)}`"
            ) from None
    raise ParamsError(
        f"Can not safely convert `{type(value)}` to `{type_str(param_type)}` for value `{value}`"
    )
