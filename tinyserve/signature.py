"""Model signatures: the JSON strings of an MLmodel ``signature`` turned into schema objects.

Parsing follows MLflow's ``ModelSignature.from_dict`` / ``Schema.from_json`` /
``ParamSchema.from_json``, including its construction checks (a malformed signature fails the
model load with one line) and the conversion of params defaults (``datetime`` defaults become
``datetime.date`` / ``datetime.datetime``). The schema classes live in ``tinyserve.schema`` and
are re-exported here. Stdlib only.
"""
from __future__ import annotations

import datetime as _dt
import json
import re
from typing import Any, Optional, Union

from tinyserve.errors import ModelLoadError
from tinyserve.schema import (  # noqa: F401  (re-exported: the public API of signatures)
    ANY_TYPE, ARRAY_TYPE, MAP_TYPE, NUMPY_DTYPE_OF, OBJECT_TYPE, SCALAR_TYPES,
    SPARKML_VECTOR_TYPE, AnyType, Array, ColSpec, Map, Object, ParamSchema, ParamSpec, Property,
    Schema, SparkMLVector, TensorSpec, ValueType, type_repr, type_str,
)


class Signature:
    """inputs / outputs / params of a model; each may be None."""

    def __init__(self, inputs: Optional[Schema] = None, outputs: Optional[Schema] = None,
                 params: Optional[ParamSchema] = None) -> None:
        self.inputs = inputs
        self.outputs = outputs
        self.params = params

    def __repr__(self) -> str:
        return (f"Signature(inputs={self.inputs!r}, outputs={self.outputs!r}, "
                f"params={self.params!r})")


# ---------------------------------------------------------------------------------------------
# Parsing


def parse_signature(mapping: Optional[dict]) -> Optional[Signature]:
    """The MLmodel ``signature`` mapping (JSON strings or null) -> Signature (None if absent)."""
    if mapping is None:
        return None
    if not isinstance(mapping, dict):
        raise ModelLoadError(f"Invalid signature in MLmodel: expected a mapping, got {mapping!r}")
    inputs = mapping.get("inputs")
    outputs = mapping.get("outputs")
    params = mapping.get("params")
    return Signature(
        inputs=parse_schema(inputs) if inputs else None,
        outputs=parse_schema(outputs) if outputs else None,
        params=parse_param_schema(params) if params else None,
    )


def _load_json_list(json_text: str, what: str) -> list:
    try:
        value = json.loads(json_text)
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(f"Invalid {what} in MLmodel signature: {exc}") from None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ModelLoadError(f"Invalid {what} in MLmodel signature: "
                             "expected a JSON list of objects")
    return value


def parse_schema(json_text: str) -> Schema:
    """An ``inputs``/``outputs`` JSON string -> Schema."""
    entries = _load_json_list(json_text, "schema")
    try:
        return Schema([_parse_spec(entry) for entry in entries])
    except ModelLoadError as exc:
        raise ModelLoadError(f"Invalid schema in MLmodel signature: {exc}") from None


def _parse_spec(entry: dict) -> Union[ColSpec, TensorSpec]:
    if "type" not in entry:
        raise ModelLoadError("Missing keys in ColSpec JSON. Expected to find key `type`")
    if entry["type"] == "tensor":
        info = entry.get("tensor-spec")
        if not isinstance(info, dict) or not {"dtype", "shape"} <= set(info):
            raise ModelLoadError("Missing keys in TensorSpec JSON. "
                                 "Expected to find keys `dtype` and `shape`")
        if not isinstance(info["shape"], (list, tuple)):
            raise ModelLoadError(f"Invalid tensor shape {info['shape']!r}")
        return TensorSpec(canonical_dtype_name(info["dtype"]), tuple(info["shape"]),
                          entry.get("name"))
    name = entry.get("name")
    if name is not None and not isinstance(name, str):
        raise ModelLoadError(f"Invalid column name {name!r}")
    if entry["type"] in SCALAR_TYPES:
        return ColSpec(entry["type"], name, entry.get("required", True))
    return ColSpec(_parse_type(entry), name, entry.get("required"))


def _parse_type(entry: Any) -> ValueType:
    """A ``{"type": ...}`` JSON mapping (with items/properties/values) -> a type."""
    if not isinstance(entry, dict) or "type" not in entry:
        raise ModelLoadError(f"Expected a type mapping with key `type`, got {entry!r}")
    kind = entry["type"]
    if kind in SCALAR_TYPES:
        return kind
    if kind == ARRAY_TYPE:
        return Array(_parse_type(entry.get("items")))
    if kind == SPARKML_VECTOR_TYPE:
        return SparkMLVector()
    if kind == MAP_TYPE:
        return Map(_parse_type(entry.get("values")))
    if kind == ANY_TYPE:
        return AnyType()
    if kind == OBJECT_TYPE:
        properties = entry.get("properties")
        if not isinstance(properties, dict) or not all(
            isinstance(prop, dict) for prop in properties.values()
        ):
            raise ModelLoadError("Expected properties to be a dictionary of Property JSON")
        return Object([
            Property(name, _parse_type(prop), prop.get("required", True))
            for name, prop in properties.items()
        ])
    raise ModelLoadError(
        f"Unsupported type '{kind}', expected instance of DataType or one of {list(SCALAR_TYPES)}"
    )


# numpy dtype spellings -> the canonical ``dtype.name`` MLflow writes and prints.
_DTYPE_ALIASES = {
    "bool": "bool", "bool_": "bool", "?": "bool",
    "int8": "int8", "byte": "int8", "int16": "int16", "short": "int16",
    "int32": "int32", "intc": "int32", "int64": "int64", "int": "int64", "int_": "int64",
    "long": "int64", "longlong": "int64",
    "uint8": "uint8", "ubyte": "uint8", "uint16": "uint16", "ushort": "uint16",
    "uint32": "uint32", "uintc": "uint32", "uint64": "uint64", "uint": "uint64",
    "ulong": "uint64", "ulonglong": "uint64",
    "float16": "float16", "half": "float16", "float32": "float32", "single": "float32",
    "float64": "float64", "float": "float64", "double": "float64",
    "float128": "float128", "longdouble": "float128",
    "complex64": "complex64", "complex128": "complex128", "complex": "complex128",
    "complex256": "complex256", "clongdouble": "complex256",
    "object": "object", "object_": "object", "O": "object",
    "str": "str", "str_": "str", "U": "str", "bytes": "bytes", "bytes_": "bytes", "S": "bytes",
    "void": "void", "V": "void", "datetime64": "datetime64", "timedelta64": "timedelta64",
}
_TIME_DTYPE = re.compile(r"^(datetime64|timedelta64)\[(Y|M|W|D|h|m|s|ms|us|ns|ps|fs|as)\]$")


def canonical_dtype_name(name: Any) -> str:
    """A numpy dtype spelling -> its canonical name, without importing numpy when possible."""
    if not isinstance(name, str):
        raise ModelLoadError(f"Invalid tensor dtype {name!r}")
    if name in _DTYPE_ALIASES:
        return _DTYPE_ALIASES[name]
    if _TIME_DTYPE.match(name):
        return name
    try:  # rare spellings (``<f8``, ``M8[ns]``): let numpy decide if it is installed
        import numpy
        dtype = numpy.dtype(name)
    except ImportError:
        raise ModelLoadError(f"Unsupported tensor dtype '{name}'") from None
    except TypeError as exc:
        raise ModelLoadError(f"Unsupported tensor dtype '{name}': {exc}") from None
    if dtype.char in ("U", "S") and not dtype.name.isalpha():
        raise ModelLoadError("MLflow does not support size information in flexible numpy data "
                             f'types. Use np.dtype("{dtype.name.rstrip("0123456789")}") instead')
    return dtype.name


def parse_param_schema(json_text: str) -> ParamSchema:
    """A ``params`` JSON string -> ParamSchema, defaults validated and converted as MLflow does."""
    entries = _load_json_list(json_text, "params schema")
    specs = []
    for entry in entries:
        kind = entry.get("type") or entry.get("dtype")
        if not {"name", "default"} <= set(entry) or kind is None:
            raise ModelLoadError(
                "Invalid params schema in MLmodel signature: Missing keys in ParamSpec JSON. "
                "Expected to find keys `name`, `type`(or `dtype`) and `default`. "
                f"Received keys: {list(entry)}"
            )
        if kind == OBJECT_TYPE:
            param_type: Union[str, Object] = _parse_type(entry)
        elif kind in SCALAR_TYPES and kind != "binary":
            param_type = kind
        else:
            raise ModelLoadError(f"Invalid params schema in MLmodel signature: "
                                 f"Unsupported type '{kind}' for parameter '{entry['name']}'")
        shape = entry.get("shape")
        spec = ParamSpec(str(entry["name"]), param_type, entry["default"],
                         tuple(shape) if shape is not None else None)
        spec.default = _checked_default(spec)
        specs.append(spec)
    return ParamSchema(specs)


# ---------------------------------------------------------------------------------------------
# Param defaults (stdlib version of the request rules in params.py: defaults are JSON values)


def _checked_default(spec: ParamSpec) -> Any:
    try:
        if spec.shape is None:
            if isinstance(spec.type, Object):
                if spec.default is not None and not isinstance(spec.default, dict):
                    raise ValueError(f"Expected data to be dictionary, got "
                                     f"{type(spec.default).__name__}")
                return spec.default
            return _default_scalar(spec.default, spec.type)
        if spec.shape == (-1,):
            if not isinstance(spec.default, list) or any(isinstance(v, list) for v in spec.default):
                raise ValueError(f"Value must be a 1D array with shape (-1,) for param {spec!r}")
            return [_default_scalar(v, spec.type) for v in spec.default]
        raise ValueError("Shape must be None for scalar or dictionary value, or (-1,) for 1D "
                         f"array value for ParamSpec {spec!r}), received {spec.shape}")
    except ValueError as exc:
        raise ModelLoadError(f"Invalid default for parameter {spec!r} in MLmodel signature: "
                             f"{exc}") from None


_PYTHON_TYPES_OF = {
    "boolean": (bool,), "integer": (int,), "long": (int,), "float": (int, float),
    "double": (int, float), "string": (str,),
}


def _default_scalar(value: Any, param_type: Any) -> Any:
    if value is None:
        return None
    if param_type == "datetime":
        return parse_iso_datetime(value)
    if isinstance(value, (list, dict)):
        raise ValueError(f"Value must be a scalar for type `DataType.{param_type}`, got `{value}`")
    accepted = _PYTHON_TYPES_OF[param_type]
    if type(value) not in accepted:
        raise ValueError(f"Can not safely convert `{type(value)}` to `DataType.{param_type}` "
                         f"for value `{value}`")
    return float(value) if param_type in ("float", "double") else value


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{3}|\.\d{6})?)?$")


def parse_iso_datetime(value: Any) -> Union[_dt.date, _dt.datetime]:
    """An ISO text -> ``datetime.date`` (date only) or ``datetime.datetime``, like MLflow's
    ``numpy.datetime64(value).item()`` for the texts MLflow writes."""
    if isinstance(value, str) and _ISO_DATE.match(value):
        return _dt.date.fromisoformat(value)
    if isinstance(value, str) and _ISO_DATETIME.match(value):
        return _dt.datetime.fromisoformat(value.replace(" ", "T"))
    try:
        import numpy
    except ImportError:
        raise ValueError(f"Failed to convert value `{value}` from type `{type(value)}` "
                         "to `DataType.datetime`") from None
    try:
        converted = numpy.datetime64(value).item()
    except ValueError:
        raise ValueError(f"Failed to convert value `{value}` from type `{type(value)}` "
                         "to `DataType.datetime`") from None
    if isinstance(converted, int):
        raise ValueError("Failed to convert value to `DataType.datetime`. It must be convertible "
                         f"to datetime.date/datetime, got `{value}`")
    return converted
