"""The schema classes of a model signature, mirroring MLflow's ``mlflow.types.schema``.

Only what serving needs, with MLflow's exact ``repr`` texts, since they appear inside error
messages (``['a': double (required)]``, ``Array(long)``, ``Map(str -> DataType.double)``,
``'ids': long (default: [1, 2]) (shape: (-1,))``). Scalar column types are plain strings
(``"double"``); nested types are small classes. Stdlib only: tensor dtypes are numpy dtype *names*.
``tinyserve.signature`` parses MLmodel JSON into these and re-exports them.
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple, Union

from tinyserve.errors import ModelLoadError

SCALAR_TYPES = ("boolean", "integer", "long", "float", "double", "string", "binary", "datetime")

# MLflow DataType -> the numpy dtype name it converts to (DataType.to_numpy, except that string
# and binary columns are held in ``object`` columns by pandas, which is what casts need).
NUMPY_DTYPE_OF = {
    "boolean": "bool",
    "integer": "int32",
    "long": "int64",
    "float": "float32",
    "double": "float64",
    "string": "object",
    "binary": "object",
    "datetime": "datetime64[ns]",
}

ARRAY_TYPE, OBJECT_TYPE, MAP_TYPE, ANY_TYPE, SPARKML_VECTOR_TYPE = (
    "array", "object", "map", "any", "sparkml_vector",
)


class _Value:
    """Equality by class and attributes (schemas compare like MLflow's)."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)


class AnyType(_Value):
    """Any JSON value; no checks."""

    kind = ANY_TYPE

    def __repr__(self) -> str:
        return "Any"


class Array(_Value):
    """A list whose elements are all of type ``items``."""

    kind = ARRAY_TYPE

    def __init__(self, items: "ValueType") -> None:
        self.items = items

    def __repr__(self) -> str:
        return f"Array({type_repr(self.items)})"


class SparkMLVector(Array):
    """Spark ML vector: an array of doubles (kept for parsing fidelity only)."""

    kind = SPARKML_VECTOR_TYPE

    def __init__(self) -> None:
        super().__init__("double")

    def __repr__(self) -> str:
        return "SparkML vector"


class Property(_Value):
    """One named field of an ``Object``."""

    def __init__(self, name: str, type: "ValueType", required: bool = True) -> None:
        self.name = name
        self.type = type
        self.required = required

    def __repr__(self) -> str:
        required = "required" if self.required else "optional"
        return f"{self.name}: {type_repr(self.type)} ({required})"

    def type_name(self) -> str:
        """The JSON ``type`` MLflow writes for this property (used in error messages)."""
        return self.type if isinstance(self.type, str) else self.type.kind


class Object(_Value):
    """A JSON object with declared properties (kept sorted by name, as MLflow does)."""

    kind = OBJECT_TYPE

    def __init__(self, properties: List[Property]) -> None:
        if not properties:
            raise ModelLoadError("Creating Object with empty properties is not allowed.")
        self.properties = sorted(properties, key=lambda prop: prop.name)

    def __repr__(self) -> str:
        return "{" + ", ".join(map(repr, self.properties)) + "}"


class Map(_Value):
    """A JSON object with string keys and values of one type."""

    kind = MAP_TYPE

    def __init__(self, values: "ValueType") -> None:
        self.values = values

    def __repr__(self) -> str:
        # MLflow formats the value type with str(), so a scalar shows as ``DataType.double``.
        return f"Map(str -> {type_str(self.values)})"


ValueType = Union[str, Array, Object, Map, AnyType]


def type_repr(value_type: ValueType) -> str:
    """``repr`` of a type as MLflow prints it: scalars by bare name (``long``)."""
    return value_type if isinstance(value_type, str) else repr(value_type)


def type_str(value_type: ValueType) -> str:
    """``str`` of a type as MLflow prints it: scalars as ``DataType.long``."""
    return f"DataType.{value_type}" if isinstance(value_type, str) else repr(value_type)


class ColSpec(_Value):
    """One column of a column-based schema."""

    def __init__(self, type: ValueType, name: Optional[str] = None, required: bool = True) -> None:
        self.type = type
        self.name = name
        # MLflow leaves ``required`` as None for array/object/map/any columns written without
        # the key; None then behaves as optional (falsy) everywhere.
        self.required = required

    def __repr__(self) -> str:
        required = "required" if self.required else "optional"
        if self.name is None:
            return f"{type_repr(self.type)} ({required})"
        return f"{self.name!r}: {type_repr(self.type)} ({required})"


class TensorSpec(_Value):
    """One tensor of a tensor-based schema; ``dtype`` is a canonical numpy dtype name."""

    required = True

    def __init__(self, dtype: str, shape: Tuple[Any, ...], name: Optional[str] = None) -> None:
        self.dtype = dtype
        self.shape = tuple(shape)
        self.name = name

    def __repr__(self) -> str:
        info = f"Tensor({self.dtype!r}, {self.shape!r})"
        return info if self.name is None else f"{self.name!r}: {info}"


class Schema(_Value):
    """An input (or output) schema: all ColSpec or all TensorSpec."""

    def __init__(self, inputs: list) -> None:
        _check_schema_inputs(inputs)
        self.inputs = inputs

    def __repr__(self) -> str:
        return repr(self.inputs)

    def __len__(self) -> int:
        return len(self.inputs)

    def is_tensor_spec(self) -> bool:
        return isinstance(self.inputs[0], TensorSpec)

    def has_input_names(self) -> bool:
        return self.inputs[0].name is not None

    def input_names(self) -> list:
        return [spec.name or i for i, spec in enumerate(self.inputs)]

    def required_input_names(self) -> list:
        return [spec.name or i for i, spec in enumerate(self.inputs) if spec.required]

    def optional_input_names(self) -> list:
        return [spec.name or i for i, spec in enumerate(self.inputs) if not spec.required]

    def input_types(self) -> list:
        return [spec.type if isinstance(spec, ColSpec) else spec.dtype for spec in self.inputs]

    def has_only_scalar_columns(self) -> bool:
        return not self.is_tensor_spec() and all(isinstance(s.type, str) for s in self.inputs)


def _check_schema_inputs(inputs: list) -> None:
    """The construction rules of MLflow's ``Schema.__init__``."""
    if not isinstance(inputs, list):
        raise ModelLoadError(f"Inputs of Schema must be a list, got type {type(inputs).__name__}")
    if not inputs:
        raise ModelLoadError("Creating Schema with empty inputs is not allowed.")
    named = [spec.name is not None for spec in inputs]
    if any(named) and not all(named):
        raise ModelLoadError(
            "Creating Schema with a combination of named and unnamed inputs is not allowed. "
            f"Got input names {[spec.name for spec in inputs]}"
        )
    tensors = [isinstance(spec, TensorSpec) for spec in inputs]
    if any(tensors) and not all(tensors):
        raise ModelLoadError("Creating Schema with a combination of ColSpec and TensorSpec "
                             "is not supported. Please choose one of ColSpec or TensorSpec")
    if all(tensors) and len(inputs) > 1 and not all(named):
        raise ModelLoadError("Creating Schema with multiple unnamed TensorSpecs is not supported. "
                             "Please provide names for each TensorSpec.")
    if not any(named) and any(spec.required is False for spec in inputs):
        raise ModelLoadError("Creating Schema with unnamed optional inputs is not supported. "
                             "Please name all inputs or make all inputs required.")


class ParamSpec(_Value):
    """One inference parameter: name, type (scalar name or Object), default, shape."""

    def __init__(self, name: str, type: Union[str, Object], default: Any,
                 shape: Optional[Tuple[int, ...]] = None) -> None:
        self.name = name
        self.type = type
        self.default = default
        self.shape = tuple(shape) if shape is not None else None

    def __repr__(self) -> str:
        shape = f" (shape: {self.shape})" if self.shape is not None else ""
        return f"{self.name!r}: {type_repr(self.type)} (default: {self.default}){shape}"


class ParamSchema(_Value):
    """The params part of a signature."""

    def __init__(self, params: List[ParamSpec]) -> None:
        seen, duplicates = set(), []
        for spec in params:
            (duplicates.append if spec.name in seen else seen.add)(spec.name)
        if duplicates:
            raise ModelLoadError(f"Duplicated parameters found in schema: {duplicates}")
        self.params = params

    def __repr__(self) -> str:
        return repr(self.params)
