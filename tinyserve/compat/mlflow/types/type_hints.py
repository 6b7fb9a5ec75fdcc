"""Stand-in for ``mlflow.types.type_hints``: checking data against a predict type hint.

The predict wrapper MLflow pickles with every type-hinted model calls
``_validate_model_input``, which converts a DataFrame to a list and validates every element
against the hint. The error texts are MLflow 3.17's, because the server shows them to clients:
``Failed to validate data against type hint `list[str]`, invalid elements: [...]``. Pydantic
hints are supported when pydantic is installed (a pydantic hint cannot exist otherwise).
"""
from __future__ import annotations

import base64
import logging
import os
import sys
import types
from datetime import datetime
from typing import Any, NamedTuple, Optional, TypeVar, Union, get_args, get_origin

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

_logger = logging.getLogger(__name__)

NONE_TYPE = type(None)
UNION_TYPES = tuple(t for t in (Union, getattr(types, "UnionType", None)) if t is not None)
# special type hint: convert data to the input example's type after validation
TypeFromExample = TypeVar("TypeFromExample")
OPTIONAL_INPUT_MSG = (
    "Input cannot be Optional type. Fix this by removing the "
    "Optional wrapper from the type hint. To use optional fields, "
    "use a Pydantic-based type hint definition. See "
    "https://docs.pydantic.dev/latest/api/base_model/ for pydantic "
    "BaseModel examples. Check https://mlflow.org/docs/latest/model/python_model.html#supported-type-hints"
    " for more details."
)
# the element types MLflow maps to a column type (numpy types are not supported)
PRIMITIVE_HINTS = (int, str, bool, float, bytes, datetime)
SUPPORTED_TYPE_HINT_MSG = (
    "Type hints must be a list[...] where collection element type is one of these types: "
    f"{list(PRIMITIVE_HINTS)}, pydantic BaseModel subclasses, "
    "lists and dictionaries of primitive types, or typing.Any. Check "
    "https://mlflow.org/docs/latest/model/python_model.html#supported-type-hints for more details."
)


class UnsupportedTypeHintException(MlflowException):
    def __init__(self, type_hint: Any) -> None:
        super().__init__(
            f"Unsupported type hint `{_type_hint_repr(type_hint)}`. {SUPPORTED_TYPE_HINT_MSG}",
            error_code=INVALID_PARAMETER_VALUE,
        )


class InvalidTypeHintException(MlflowException):
    def __init__(self, *, message: str) -> None:
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)


class ValidationResult(NamedTuple):
    value: Any = None
    error_message: Optional[str] = None


def _pydantic() -> Any:
    """The pydantic module if something already imported it (a pydantic hint implies it)."""
    return sys.modules.get("pydantic")


def type_hints_no_signature_inference() -> tuple:
    """Hints that switch validation off: DataFrame, Series, ndarray, scipy sparse matrices."""
    hints: tuple = ()
    for module_name, names in (("pandas", ("DataFrame", "Series")), ("numpy", ("ndarray",)),
                               ("scipy.sparse", ("csc_matrix", "csr_matrix"))):
        module = sys.modules.get(module_name)
        if module is not None:
            hints += tuple(getattr(module, name) for name in names if hasattr(module, name))
    return hints


def _signature_cannot_be_inferred_from_type_hint(type_hint: Any) -> bool:
    return type_hint in type_hints_no_signature_inference()


def _is_type_hint_from_example(type_hint: Any) -> bool:
    return type_hint == TypeFromExample


def _is_pydantic_type_hint(type_hint: Any) -> bool:
    pydantic = _pydantic()
    if pydantic is None:
        return False
    try:
        return issubclass(type_hint, pydantic.BaseModel)
    except TypeError:
        return False


def _type_hint_repr(type_hint: Any) -> str:
    return (
        type_hint.__name__
        if _is_pydantic_type_hint(type_hint) or type(type_hint) == type  # noqa: E721
        else str(type_hint)
    )


def _raise_type_hint_error(type_hint: Any) -> None:
    if type_hint in (list, dict, Optional) + UNION_TYPES:
        raise InvalidTypeHintException(
            message=f"Invalid type hint `{_type_hint_repr(type_hint)}`, it must include "
            f"a valid element type. {SUPPORTED_TYPE_HINT_MSG}"
        )
    raise UnsupportedTypeHintException(type_hint=type_hint)


def _get_element_type_of_list_type_hint(type_hint: Any) -> Any:
    args = get_args(type_hint)
    if type(None) in args:
        raise MlflowException.invalid_parameter_value(OPTIONAL_INPUT_MSG)
    if len(args) == 0:
        raise InvalidTypeHintException(
            message=f"Type hint `{_type_hint_repr(type_hint)}` doesn't contain a collection "
            "element type. Fix by adding an element type to the collection type definition, "
            "e.g. `list[str]` instead of `list`."
        )
    if len(args) > 1:
        raise InvalidTypeHintException(
            message=f"Type hint `{_type_hint_repr(type_hint)}` contains {len(args)} element types. "
            "Collections must have only a single type definition e.g. `list[int]` is valid; "
            "`list[str, int]` is invalid."
        )
    return args[0]


def _check_element_hint(type_hint: Any) -> bool:
    """MLflow's schema inference for one element hint, keeping only its verdict: raises for an
    invalid or unsupported hint; returns whether the element is required."""
    if type_hint == Any or type_hint in PRIMITIVE_HINTS:
        return True
    if _is_pydantic_type_hint(type_hint):
        for field_name, field_info in type_hint.model_fields.items():
            if field_info.annotation is None:
                raise InvalidTypeHintException(
                    message="The following fields in the Pydantic model do not have type "
                    f"annotations: {[field_name]}. Please add type annotations to these fields."
                )
            if not _check_element_hint(field_info.annotation) and field_info.is_required():
                raise InvalidTypeHintException(
                    message=f"Optional field `{field_name}` in Pydantic model "
                    f"`{type_hint.__name__}` doesn't have a default value. Please set default "
                    "value to None for this field."
                )
        return True
    origin_type = get_origin(type_hint)
    if origin_type is not None:
        args = get_args(type_hint)
        if origin_type is list:
            _check_element_hint(_get_element_type_of_list_type_hint(type_hint))
            return True
        if origin_type is dict:
            if len(args) == 2:
                if args[0] != str:
                    raise InvalidTypeHintException(
                        message=f"Dictionary key type must be str, got {args[0]} in type hint "
                        f"{_type_hint_repr(type_hint)}"
                    )
                _check_element_hint(args[1])
                return True
            raise InvalidTypeHintException(
                message="Dictionary type hint must contain two element types, got "
                f"{_type_hint_repr(type_hint)}"
            )
        if origin_type in UNION_TYPES:
            if NONE_TYPE in args and len(args) == 2:
                _check_element_hint(next(arg for arg in args if arg is not NONE_TYPE))
                return False
            return NONE_TYPE not in args
    _raise_type_hint_error(type_hint)
    return True


def _is_list_type_hint(type_hint: Any) -> bool:
    return type_hint == list or _get_origin_type(type_hint) is list


def _infer_schema_from_list_type_hint(type_hint: Any) -> None:
    """Raise as MLflow does when the hint cannot describe a model input (no Schema returned)."""
    if not _is_list_type_hint(type_hint):
        raise MlflowException.invalid_parameter_value(
            message="Type hints must be wrapped in list[...] because MLflow assumes the "
            "predict method to take multiple input instances. Specify your type hint as "
            f"`list[{_type_hint_repr(type_hint)}]` for a valid signature."
        )
    if not _check_element_hint(_get_element_type_of_list_type_hint(type_hint)):
        raise InvalidTypeHintException(message=OPTIONAL_INPUT_MSG)


def _validate_data_against_type_hint(data: Any, type_hint: Any) -> Any:
    """Validate ``data``; a dict for a pydantic hint becomes a model instance."""
    if _is_pydantic_type_hint(type_hint):
        return _validate_pydantic(data, type_hint)
    if type_hint == Any:
        return data
    if type_hint in PRIMITIVE_HINTS:
        if _in_serving_environment():
            data = _parse_data_for_datatype_hint(data=data, type_hint=type_hint)
        if isinstance(data, type_hint):
            return data
        raise MlflowException.invalid_parameter_value(
            f"Expected type {_type_hint_repr(type_hint)}, but got {type(data).__name__}"
        )
    origin_type = get_origin(type_hint)
    if origin_type is not None:
        args = get_args(type_hint)
        if origin_type is list:
            return _validate_list_elements(element_type=args[0], data=data)
        if origin_type is dict:
            return _validate_dict_elements(element_type=args[1], data=data)
        if origin_type in UNION_TYPES:
            if NONE_TYPE in args:
                if data is None:
                    return data
                if len(args) == 2:
                    effective_type = next(arg for arg in args if arg is not NONE_TYPE)
                    return _validate_data_against_type_hint(data=data, type_hint=effective_type)
            return data
    _raise_type_hint_error(type_hint)


def _validate_pydantic(data: Any, type_hint: Any) -> Any:
    pydantic = _pydantic()
    if isinstance(data, pydantic.BaseModel):
        data_dict = data.model_dump()
    elif isinstance(data, dict):
        data_dict = data
    else:
        raise MlflowException.invalid_parameter_value(
            "Expecting example to be a dictionary or pydantic model instance for "
            f"Pydantic type hint, got {type(data)}"
        )
    try:
        type_hint.model_validate(data_dict, strict=True)
    except pydantic.ValidationError as error:
        raise MlflowException.invalid_parameter_value(
            message=f"Data doesn't match type hint, error: {error}. Expected fields in the "
            f"type hint: {type_hint.model_fields}; passed data: {data_dict}. Check "
            "https://mlflow.org/docs/latest/model/python_model.html#pydantic-model-type-hints-data-conversion"
            " for more details.",
        ) from error
    return type_hint(**data_dict) if isinstance(data, dict) else data


def _in_serving_environment() -> bool:
    """MLflow's boolean env var ``_MLFLOW_IS_IN_SERVING_ENVIRONMENT`` (set by the server)."""
    value = os.environ.get("_MLFLOW_IS_IN_SERVING_ENVIRONMENT")
    return value is not None and value.lower() in ("true", "1")


def _parse_data_for_datatype_hint(data: Any, type_hint: Any) -> Any:
    """In serving, JSON strings stand for bytes (base64) and datetimes (ISO format)."""
    if type_hint == bytes and isinstance(data, str):
        return base64.decodebytes(bytes(data, "utf8"))
    if type_hint == datetime and isinstance(data, str):
        return datetime.fromisoformat(data)
    return data


def _get_data_validation_result(data: Any, type_hint: Any) -> ValidationResult:
    try:
        return ValidationResult(value=_validate_data_against_type_hint(data=data,
                                                                      type_hint=type_hint))
    except MlflowException as error:
        return ValidationResult(error_message=error.message)


def _validate_list_elements(element_type: Any, data: Any) -> list:
    if not isinstance(data, list):
        raise MlflowException.invalid_parameter_value(
            f"Expected list, but got {type(data).__name__}"
        )
    invalid_elems = []
    result = []
    for elem in data:
        validation_result = _get_data_validation_result(data=elem, type_hint=element_type)
        if validation_result.error_message:
            invalid_elems.append((str(elem), validation_result.error_message))
        else:
            result.append(validation_result.value)
    if invalid_elems:
        invalid_elems_msg = (
            f"{invalid_elems[:5]} ... (truncated)" if len(invalid_elems) > 5 else invalid_elems
        )
        raise MlflowException.invalid_parameter_value(
            f"Failed to validate data against type hint `list[{_type_hint_repr(element_type)}]`, "
            f"invalid elements: {invalid_elems_msg}"
        )
    return result


def _validate_dict_elements(element_type: Any, data: Any) -> dict:
    if not isinstance(data, dict):
        raise MlflowException.invalid_parameter_value(
            f"Expected dict, but got {type(data).__name__}"
        )
    invalid_elems = {}
    result = {}
    for key, value in data.items():
        if not isinstance(key, str):
            invalid_elems[str(key)] = f"Key must be a string, got {type(key).__name__}"
            continue
        validation_result = _get_data_validation_result(data=value, type_hint=element_type)
        if validation_result.error_message:
            invalid_elems[key] = validation_result.error_message
        else:
            result[key] = validation_result.value
    if invalid_elems:
        raise MlflowException.invalid_parameter_value(
            f"Failed to validate data against type hint "
            f"`dict[str, {_type_hint_repr(element_type)}]`, "
            f"invalid elements: {invalid_elems}"
        )
    return result


def _get_origin_type(type_hint: Any) -> Any:
    """The origin of a hint; for ``Optional[X]`` that of ``X``; other unions count as Any."""
    origin_type = get_origin(type_hint)
    if origin_type in UNION_TYPES:
        args = get_args(type_hint)
        if NONE_TYPE in args and len(args) == 2:
            return _get_origin_type(next(arg for arg in args if arg is not NONE_TYPE))
        return Any
    return origin_type


def _convert_data_to_type_hint(data: Any, type_hint: Any) -> Any:
    """A DataFrame becomes a list for ``list[...]`` hints: records for dict or pydantic
    elements, else the first column's values (MLflow's compatibility with CSV/spark input)."""
    pd = sys.modules.get("pandas")  # no pandas loaded: data cannot be a DataFrame
    if pd is None or not isinstance(data, pd.DataFrame) or type_hint == pd.DataFrame:
        return data
    if _get_origin_type(type_hint) is not list:
        raise MlflowException(
            "Only `list[...]` type hint supports pandas DataFrame input "
            f"with a single column. But got {_type_hint_repr(type_hint)}."
        )
    element_type = _get_element_type_of_list_type_hint(type_hint)
    if element_type is dict or _is_pydantic_type_hint(element_type):
        if list(data.columns) == [0]:
            result = data.iloc[:, 0].tolist()
        else:
            result = data.to_dict(orient="records")
    else:
        if len(data.columns) != 1:
            _logger.warning(
                "`predict` function with list[...] type hints of non-dictionary collection "
                "type only supports pandas DataFrame with a single column. But got "
                f"{len(data.columns)} columns. The data will be converted to a list "
                "of the first column."
            )
        result = data.iloc[:, 0].tolist()
    return _sanitize_data(result)


def _sanitize_data(data: Any) -> Any:
    """numpy arrays inside the converted data become lists; NaN floats become None."""
    np = sys.modules.get("numpy")
    if np is None:
        return data
    if isinstance(data, np.ndarray):
        data = data.tolist()
    if isinstance(data, list):
        data = [_sanitize_data(elem) for elem in data]
    if isinstance(data, dict):
        data = {key: _sanitize_data(value) for key, value in data.items()}
    if isinstance(data, float) and np.isnan(data):
        data = None
    return data
