"""An MLflow signature seen through the V2 (Open Inference) protocol, as plain data.

The MLServer runtime (``tinyserve.mlserver``) publishes these tensors as its model metadata and
decodes requests with their content types, the way MLServer's own MLflow runtime does: each
column is a tensor of shape ``[-1, 1]`` (numbers as numbers, strings as BYTES), each tensor spec
keeps its dtype and shape, and the request as a whole becomes a DataFrame (``pd``), one array
(``np``) or a dict of arrays (``dict``). Standard library only: tested without MLServer.
"""
from __future__ import annotations

from typing import List, NamedTuple, Optional

from tinyserve.schema import ColSpec, Schema

INPUT_PREFIX = "input-"
OUTPUT_PREFIX = "output-"

# MLflow column type -> (V2 datatype, MLServer input content type)
COLUMN_TYPES = {
    "boolean": ("BOOL", "np"),
    "integer": ("INT32", "np"),
    "long": ("INT64", "np"),
    "float": ("FP32", "np"),
    "double": ("FP64", "np"),
    "string": ("BYTES", "str"),
    "binary": ("BYTES", "base64"),
    "datetime": ("BYTES", "datetime"),
}
NESTED_COLUMN = ("BYTES", "pd_json")  # arrays, objects, maps, any: one JSON text per row

# numpy dtype name of a tensor spec -> V2 datatype; anything else travels as BYTES
TENSOR_TYPES = {
    "bool": "BOOL", "uint8": "UINT8", "uint16": "UINT16", "uint32": "UINT32",
    "uint64": "UINT64", "int8": "INT8", "int16": "INT16", "int32": "INT32", "int64": "INT64",
    "float16": "FP16", "float32": "FP32", "float64": "FP64",
}

# how a whole request is decoded (MLServer request codecs)
FRAME, ARRAY, ARRAYS = "pd", "np", "dict"


class Tensor(NamedTuple):
    """One V2 tensor's metadata: what ``mlserver.types.MetadataTensor`` is built from."""

    name: str
    datatype: str
    shape: List[int]
    content_type: str


def tensors(schema: Optional[Schema], prefix: str) -> List[Tensor]:
    """The schema's tensors; unnamed entries are ``<prefix><index>`` as in mlserver-mlflow."""
    if schema is None:
        return []
    found = []
    for index, spec in enumerate(schema.inputs):
        name = spec.name if spec.name is not None else f"{prefix}{index}"
        if isinstance(spec, ColSpec):
            datatype, content_type = COLUMN_TYPES.get(spec.type, NESTED_COLUMN) \
                if isinstance(spec.type, str) else NESTED_COLUMN
            found.append(Tensor(str(name), datatype, [-1, 1], content_type))
        else:
            datatype = TENSOR_TYPES.get(spec.dtype, "BYTES")
            found.append(Tensor(str(name), datatype, [int(n) for n in spec.shape], ARRAY))
    return found


def request_content_type(schema: Optional[Schema]) -> str:
    """How a V2 request is decoded for the model: MLflow's own rule for the model's input
    (a DataFrame for columns or no schema, an array for one unnamed tensor, else a dict)."""
    if schema is None or not schema.is_tensor_spec():
        return FRAME
    return ARRAYS if schema.has_input_names() else ARRAY
