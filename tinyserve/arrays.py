"""`inputs` and `instances` JSON values -> numpy arrays, dicts and lists (spec 4.7, 4.8, 7.1.2).

MLflow's layer-A pre-cast for the tensor-style formats: values are converted element-wise with
numpy towards the signature's types, with MLflow's error texts.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import numpy as np

from tinyserve.errors import SchemaEnforcementError, ScoringError
from tinyserve.refusals import PendingChecks, cast_label
from tinyserve.signature import Array, Map, Object, Schema, TensorSpec
from tinyserve.values import enforce_value, numpy_type_of


def _named_specs(schema: Optional[Schema]) -> Dict[Any, Any]:
    if schema is None or not schema.has_input_names():
        return {}
    return {spec.name: spec for spec in schema.inputs}


def cast_inputs(data: Any, schema: Optional[Schema], pending: PendingChecks) -> Any:
    """MLflow's ``_cast_schema_type``: `inputs` (and non-row `instances`) towards the schema."""
    specs = _named_specs(schema)
    if schema is not None:
        if len(specs) == 1 and isinstance(data, list) and not any(
                isinstance(x, dict) for x in data):
            data = {next(iter(specs)): data}  # a single named column fed with a plain list
        elif not schema.has_input_names() and not (isinstance(data, list) or np.isscalar(data)):
            raise ScoringError(
                "Invalid input. Failed to parse input data. This model contains an un-named "
                " model signature which expects a single n-dimensional array or a single value "
                f"as input, however, an input of type {type(data)} was found."
            )

    def convert(value: Any, name: Any) -> Any:
        return _convert_value(value, specs.get(name), name, pending)

    if isinstance(data, dict):
        return {name: convert(value, name) for name, value in data.items()}
    first = schema.inputs[0] if schema is not None else None
    column = 0 if first is None or first.name is None else first.name
    if isinstance(data, list):
        if all(isinstance(row, dict) for row in data):
            return [{name: convert(value, name) for name, value in row.items()} for row in data]
        return _convert_value(data, first, column, pending)
    try:
        return _convert_value(data, first, column, pending)
    except Exception as error:
        raise ScoringError(
            f"Invalid input. Failed to convert data `{data}` to type `{first}` defined in the "
            "model signature."
        ) from error


def _convert_value(data: Any, spec: Any, column: Any, pending: PendingChecks) -> Any:
    """MLflow's ``convert_data_type``: one value or list, with numpy, towards one spec."""
    try:
        if spec is None:
            return np.array(data)
        if isinstance(spec, TensorSpec) or isinstance(spec.type, str):
            if isinstance(spec, TensorSpec):
                target = np.dtype(spec.dtype)
            else:
                target = numpy_type_of(spec.type)
            label = cast_label(spec)
            if isinstance(spec, TensorSpec) or isinstance(data, (list, np.ndarray)):
                pending.add(column, label, data, target)
                return np.array(data, dtype=target)
            pending.add(column, label, [data], target)
            return np.array([data], dtype=target)[0]
        if isinstance(spec.type, Array):
            return np.array(enforce_value(data, spec.type, required=spec.required))
        if isinstance(spec.type, (Object, Map)):
            return enforce_value(data, spec.type, required=spec.required)
        return data  # AnyType
    except SchemaEnforcementError as error:
        raise ScoringError(f"Invalid input. {error.reason}") from error
    except Exception as error:
        raise ScoringError(f"Invalid input. {error}") from error


def parse_instances(data: Any, schema: Optional[Schema], pending: PendingChecks) -> Any:
    """MLflow's ``parse_instances_data``: rows of objects become columns, the rest as `inputs`."""
    if isinstance(data, list) and data and isinstance(data[0], dict):
        specs = _named_specs(schema)
        columns: Dict[Any, List[Any]] = {}
        for row in data:
            for name, value in row.items():
                converted = _convert_value(value, specs.get(name), name, pending)
                columns.setdefault(name, []).append(converted)
        data = {name: np.array(values) for name, values in columns.items()}
    else:
        data = cast_inputs(data, schema, pending)
    if isinstance(data, dict):
        _check_equal_lengths(data, schema)
    return data


def _check_equal_lengths(data: Dict[Any, Any], schema: Optional[Schema]) -> None:
    sized = {k: v for k, v in data.items() if isinstance(v, (list, np.ndarray))}
    if schema is not None and schema.has_input_names():
        not_arrays = {spec.name for spec in schema.inputs
                      if not isinstance(getattr(spec, "type", None), Array)}
        names = list(set(schema.required_input_names()) & not_arrays & set(sized))
    else:
        names = list(sized)
    if not names:
        return
    expected = len(sized[names[0]])  # a 0-d array fails here, as in MLflow (TypeError)
    if not all(len(sized[name]) == expected for name in names[1:]):
        raise ScoringError(
            "Invalid input. The length of values for each input/column name are not the same"
        )
