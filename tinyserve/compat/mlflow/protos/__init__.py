"""Stand-in for the ``mlflow.protos`` package (only ``databricks_pb2`` is provided)."""
from __future__ import annotations

from mlflow.protos import databricks_pb2  # ``mlflow.protos.databricks_pb2.X`` in model code

__all__ = ["databricks_pb2"]
