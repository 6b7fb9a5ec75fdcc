"""Stand-in for ``mlflow.types.schema``: schema objects that unpickle and hold their data.

A function model saved with an explicit ``signature=`` pickles MLflow's ``ModelSignature``
with these classes inside (``_FunctionPythonModel.signature``). Nothing in tinyserve reads
them (the signature comes from MLmodel), so they only keep the attributes MLflow gives them.
"""
from __future__ import annotations

from enum import Enum
from typing import Any, List, Optional, Sequence


class DataType(Enum):
    """MLflow's column types; the numbers are what pickles store."""

    boolean = 1
    integer = 2
    long = 3
    float = 4
    double = 5
    string = 6
    binary = 7
    datetime = 8

    def __repr__(self) -> str:
        return self.name


def _data_type(value: Any) -> Any:
    return DataType[value] if isinstance(value, str) else value


class Property:
    def __init__(self, name: str, dtype: Any, required: bool = True) -> None:
        self._name, self._dtype, self._required = name, _data_type(dtype), required


class Object:
    def __init__(self, properties: List[Property]) -> None:
        self._properties = properties


class Array:
    def __init__(self, dtype: Any) -> None:
        self._dtype = _data_type(dtype)


class SparkMLVector(Array):
    def __init__(self) -> None:
        super().__init__(DataType.double)


class Map:
    def __init__(self, value_type: Any) -> None:
        self._value_type = _data_type(value_type)


class AnyType:
    pass


class ColSpec:
    def __init__(self, type: Any, name: Optional[str] = None, required: bool = True) -> None:
        self._name, self._type, self._required = name, _data_type(type), required


class TensorInfo:
    def __init__(self, dtype: Any, shape: Sequence[int]) -> None:
        self._dtype, self._shape = dtype, tuple(shape)


class TensorSpec:
    def __init__(self, type: Any, shape: Sequence[int], name: Optional[str] = None) -> None:
        self._name, self._tensorInfo = name, TensorInfo(type, shape)


class Schema:
    def __init__(self, inputs: list) -> None:
        self._inputs = inputs

    @property
    def inputs(self) -> list:
        return self._inputs


class ParamSpec:
    def __init__(self, name: str, dtype: Any, default: Any, shape: Any = None) -> None:
        self._name, self._dtype = name, _data_type(dtype)
        self._default, self._shape = default, shape


class ParamSchema:
    def __init__(self, params: List[ParamSpec]) -> None:
        self._params = params

    @property
    def params(self) -> List[ParamSpec]:
        return self._params
