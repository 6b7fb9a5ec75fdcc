"""Stand-in for the ``mlflow.types`` package: schema classes and the type-hint checks."""
from __future__ import annotations

from mlflow.types import schema, type_hints
from mlflow.types.schema import ColSpec, DataType, ParamSchema, ParamSpec, Schema, TensorSpec

__all__ = ["ColSpec", "DataType", "ParamSchema", "ParamSpec", "Schema", "TensorSpec", "schema",
           "type_hints"]
