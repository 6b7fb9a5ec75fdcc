"""Layer B: the model input checked and converted against the signature's input schema (spec 7.2).

This is MLflow's ``_enforce_schema``: a column schema turns dicts, lists, arrays and scalars into a
DataFrame (7.2.1), checks names (7.2.2) or column count (7.2.3), then each column (``values.py``);
a tensor schema reshapes and checks shapes and dtypes (7.2.4). It is strict: only the widenings of
spec 7.3 happen here (the lenient casts are layer A's, in request parsing).

Any failure raises ``SchemaEnforcementError(reason)``; ``reason`` is the text MLflow puts after
``Error: `` in ``Failed to enforce schema of data '...' with schema '...'. Error: <reason>``.
"""
from __future__ import annotations

import logging
from typing import Any, Optional

import numpy as np
import pandas as pd

from tinyserve.errors import SchemaEnforcementError
from tinyserve.signature import Array, ColSpec, Object, Schema, TensorSpec
from tinyserve.values import convert_column, enforce_value, passes_unchanged

_logger = logging.getLogger("tinyserve")


def enforce_input(data: Any, schema: Schema) -> Any:
    """Check/convert ``data`` against an input schema; returns what the model receives."""
    try:
        return _enforce(data, schema)
    except SchemaEnforcementError:
        raise
    except Exception as exc:  # MLflow reports any failure here as the enforcement reason
        raise SchemaEnforcementError(str(exc)) from exc


def _enforce(data: Any, schema: Schema) -> Any:
    if isinstance(data, pd.Series):
        data = pd.DataFrame(data)
    if not schema.is_tensor_spec():
        data = _as_dataframe(data, schema)
        if _already_conforms(data, schema):
            return data
    if schema.has_input_names():
        data = _check_names(data, schema)
    elif not schema.is_tensor_spec() and len(data.columns) < len(schema.inputs):
        raise SchemaEnforcementError(
            "Model inference is missing inputs. The model signature declares "
            f"{len(schema.inputs)} inputs  but the provided value only has "
            f"{len(data.columns)} inputs. Note: the inputs were not named in the signature so "
            "we can only verify their count."
        )
    if schema.is_tensor_spec():
        return _enforce_tensors(data, schema)
    if schema.has_input_names():
        return _enforce_named_columns(data, schema)
    return _enforce_unnamed_columns(data, schema)


# ---------------------------------------------------------------------------------------------
# 7.2.1 column schemas: everything becomes a DataFrame


def _is_scalar(value: Any) -> bool:
    return np.isscalar(value) or value is None


def _is_one_row(data: dict, schema: Schema) -> bool:
    """A dict whose values are cells (one row) rather than columns."""
    if any(isinstance(spec.type, (Array, Object)) for spec in schema.inputs):
        return True
    return all(
        _is_scalar(value) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        for value in data.values()
    )


def _as_dataframe(data: Any, schema: Schema) -> pd.DataFrame:
    if np.isscalar(data):
        data = pd.DataFrame([data])
    elif isinstance(data, dict):
        if _is_one_row(data, schema):
            data = pd.DataFrame([data])
        else:
            try:
                data = _dict_of_columns_to_dataframe(data)
            except Exception as exc:
                raise SchemaEnforcementError(
                    "This model contains a column-based signature, which suggests a DataFrame "
                    f"input. There was an error casting the input data to a DataFrame: {exc}"
                ) from exc
    elif isinstance(data, (list, np.ndarray, pd.Series)):
        data = pd.DataFrame(data)
    if not isinstance(data, pd.DataFrame):
        raise SchemaEnforcementError(
            f"Expected input to be DataFrame. Found: {type(data).__name__}"
        )
    return data


def _dict_of_columns_to_dataframe(data: dict) -> pd.DataFrame:
    values = data.values()
    if all(isinstance(v, np.ndarray) and v.dtype.type == np.str_ and v.size == 1
           and v.shape == () for v in values):
        return pd.DataFrame([data])
    if any(isinstance(v, np.ndarray) and v.ndim > 1 for v in values):
        return pd.DataFrame({
            key: value.tolist() if isinstance(value, np.ndarray) and value.ndim > 1 else value
            for key, value in data.items()
        })
    return pd.DataFrame(data)


def _already_conforms(data: pd.DataFrame, schema: Schema) -> bool:
    """The common case, decided from column labels and dtypes alone: exactly the schema's
    named scalar columns, in order, each of a dtype enforcement would leave untouched."""
    specs = schema.inputs
    if not schema.has_input_names() or len(data.columns) != len(specs):
        return False
    if any(not isinstance(spec.type, str) for spec in specs):
        return False
    if data.columns.tolist() != [spec.name for spec in specs]:
        return False
    return all(passes_unchanged(dtype, spec.type)
               for dtype, spec in zip(_column_dtypes(data), specs))


def _column_dtypes(data: pd.DataFrame) -> list:
    """Column dtypes in order; ``DataFrame.dtypes`` builds a Series, which costs far more."""
    try:
        return list(data._mgr.get_dtypes())
    except AttributeError:  # a pandas without this internal: the public, slower way
        return list(data.dtypes)


# ---------------------------------------------------------------------------------------------
# 7.2.2 / 7.2.3 names and count


def _check_names(data: Any, schema: Schema) -> Any:
    required = schema.required_input_names()
    expected = set(required)
    optional = set(schema.optional_input_names())
    actual: set = set()
    if len(expected) == 1 and isinstance(data, np.ndarray):
        data = {required[0]: data}  # a bare array for a single-input schema
        actual = expected
    elif isinstance(data, pd.DataFrame):
        actual = set(data.columns)
    elif isinstance(data, dict):
        actual = set(data.keys())
    missing = [name for name in required if name not in actual]
    extra = [name for name in actual if name not in expected and name not in optional]
    if missing:
        message = f"Model is missing inputs {missing}."
        if extra:
            message += f" Note that there were extra inputs: {extra}."
        raise SchemaEnforcementError(message)
    if extra:
        _logger.warning(
            "Found extra inputs in the model input that are not defined in the model "
            "signature: `%s`. These inputs will be ignored.", extra,
        )
    return data


def _enforce_column(name: Any, column: pd.Series, spec: ColSpec, required: Any) -> pd.Series:
    if isinstance(spec.type, str):
        return convert_column(name, column, spec.type)
    return pd.Series([enforce_value(cell, spec.type, required) for cell in column],
                     index=column.index, name=name)


def _enforce_named_columns(data: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    columns = {}
    untouched = True
    for spec in schema.inputs:
        if spec.name not in data:
            if spec.required:
                raise SchemaEnforcementError(
                    f"The input column '{spec.name}' is required by the model signature but "
                    "missing from the input data."
                )
            continue
        column = data[spec.name]
        columns[spec.name] = _enforce_column(spec.name, column, spec, spec.required)
        untouched = untouched and columns[spec.name] is column
    if untouched and list(data.columns) == list(columns):
        return data  # already exactly the schema's columns, in order, with matching dtypes
    return pd.DataFrame(columns)


def _enforce_unnamed_columns(data: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    names = data.columns[: len(schema.inputs)]
    columns = {}
    untouched = True
    for name, spec in zip(names, schema.inputs):
        column = data[name]
        columns[name] = _enforce_column(name, column, spec, True)
        untouched = untouched and columns[name] is column
    if untouched and list(data.columns) == list(columns):
        return data
    return pd.DataFrame(columns)


# ---------------------------------------------------------------------------------------------
# 7.2.4 tensor schemas


def _clean_dtype(dtype: np.dtype) -> np.dtype:
    if dtype.char == "U":
        return np.dtype("str")
    if dtype.char == "S":
        return np.dtype("bytes")
    return dtype


def enforce_tensor(values: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """Shape and dtype of one array against a TensorSpec (``-1`` = any size)."""
    expected_shape = spec.shape
    expected_type = np.dtype(spec.dtype)
    actual_shape = values.shape
    actual_type = values.dtype
    if len(expected_shape) == 1 and expected_shape[0] == -1 and expected_type == np.dtype("O"):
        return values  # ragged arrays: Tensor('object', (-1,)) accepts anything
    if len(expected_shape) > 1 and -1 in expected_shape[1:] and len(actual_shape) == 1 \
            and actual_type == np.dtype("O"):
        return values
    if len(expected_shape) != len(actual_shape) or any(
        expected != -1 and expected != actual
        for expected, actual in zip(expected_shape, actual_shape)
    ):
        raise SchemaEnforcementError(
            f"Shape of input {actual_shape} does not match expected shape {expected_shape}."
        )
    if _clean_dtype(actual_type) != expected_type:
        raise SchemaEnforcementError(
            f"dtype of input {actual_type} does not match expected dtype {expected_type}"
        )
    return values


def _reshape_column(name: Optional[str], column: pd.Series, spec: TensorSpec) -> np.ndarray:
    """A DataFrame column (scalars, lists or arrays per row) -> one array of the spec's shape."""
    shape = spec.shape
    dtype = np.dtype(spec.dtype)
    if shape[0] != -1 or -1 in shape[1:]:
        raise SchemaEnforcementError(
            "For pandas dataframe input, the first dimension of shape must be a variable "
            "dimension and other dimensions must be fixed, but in model signature the shape "
            f"of {'input ' + name if name else 'the unnamed input'} is {shape}."
        )
    first = column[0]
    if np.isscalar(first):
        if shape in ((-1,), (-1, 1)):
            return enforce_tensor(np.array(column, dtype=dtype).reshape(shape), spec)
        raise SchemaEnforcementError(
            f"The input pandas dataframe column '{name}' contains scalar values, which requires "
            f"the shape to be (-1,) or (-1, 1), but got tensor spec shape of {shape}."
        )
    if isinstance(first, list) and np.isscalar(first[0]):
        message = (
            f"The value in the Input DataFrame column '{name}' could not be converted to the "
            f"expected shape of: '{shape}'. Ensure that each of the input list elements are of "
            f"uniform length and that the data can be coerced to the tensor type '{dtype}'"
        )
        try:
            reshaped = np.vstack(column.tolist()).reshape(shape).astype(dtype)
        except ValueError:
            raise SchemaEnforcementError(message) from None
    elif isinstance(first, np.ndarray):
        message = (
            f"The value in the Input DataFrame column '{name}' could not be converted to the "
            f"expected shape of: '{shape}'. Ensure that each of the input numpy array elements "
            "are of uniform length and can be reshaped to above expected shape."
        )
        try:
            reshaped = np.vstack(column.tolist()).reshape(shape)
        except ValueError:
            raise SchemaEnforcementError(message) from None
    else:
        raise SchemaEnforcementError(
            "Because the model signature requires tensor spec input, the input pandas dataframe "
            "values should be either scalar value, python list containing scalar values or numpy "
            "array containing scalar values, other types are not supported."
        )
    if len(reshaped) != len(column):
        raise SchemaEnforcementError(message)
    return reshaped


def _enforce_tensors(data: Any, schema: Schema) -> Any:
    if schema.has_input_names():
        if isinstance(data, dict):
            result = {}
            for spec in schema.inputs:
                value = data[spec.name]
                if not isinstance(value, np.ndarray):
                    raise SchemaEnforcementError(
                        "This model contains a tensor-based model signature with input names, "
                        "which suggests a dictionary input mapping input name to a numpy array, "
                        f"but a dict with value type {type(value)} was found."
                    )
                result[spec.name] = enforce_tensor(value, spec)
            return result
        if isinstance(data, pd.DataFrame):
            return {spec.name: _reshape_column(spec.name, data[spec.name], spec)
                    for spec in schema.inputs}
        raise SchemaEnforcementError(
            "This model contains a tensor-based model signature with input names, which suggests "
            "a dictionary input mapping input name to tensor, or a pandas DataFrame input "
            "containing columns mapping input name to flattened list value from tensor, but an "
            f"input of type {type(data)} was found."
        )
    spec = schema.inputs[0]
    if isinstance(data, pd.DataFrame):
        if data.empty:
            raise SchemaEnforcementError("Input DataFrame is empty.")
        if len(data.columns) == 1:
            return _reshape_column(None, data[data.columns[0]], spec)
        if spec.shape != (-1, len(data.columns)):
            raise SchemaEnforcementError(
                "This model contains a model signature with an unnamed input. Since the input "
                "data is a pandas DataFrame containing multiple columns, the input shape must be "
                "of the structure (-1, number_of_dataframe_columns). Instead, the input "
                f"DataFrame passed had {len(data.columns)} columns and an input shape of "
                f"{spec.shape} with all values within the DataFrame of scalar type. Please "
                "adjust the passed in DataFrame to match the expected structure"
            )
        return enforce_tensor(data.to_numpy(), spec)
    if isinstance(data, np.ndarray):
        return enforce_tensor(data, spec)
    raise SchemaEnforcementError(
        "This model contains a tensor-based model signature with no input names, which suggests "
        "a numpy array input or a pandas dataframe input with proper column values, but an input "
        f"of type {type(data)} was found."
    )
