"""V2 (Open Inference Protocol) tensors for ``TinyserveRuntime``: metadata and predictions.

MLServer's codecs write numbers, strings and bytes; a model's prediction can be anything
``/invocations`` would write as JSON. So a prediction is put in a form the codecs take first:

- a DataFrame becomes one output per column, as MLServer's ``PandasCodec`` writes them
  (request content type ``pd``); columns the codec cannot write (pandas 3's string dtype, text
  with missing values, dates, nullable numbers with NA) are converted, and a column that is not
  all numbers or all text is sent as one JSON text per row (content type ``pd_json``, as
  MLServer itself does for such columns);
- a dict becomes one output per key (``dict``), anything else one output (``np``): arrays keep
  their numbers, strings and bytes; other values (dicts, ``None``, dates...) become JSON texts.

Texts travel as UTF-8 bytes, as MLServer's own codecs send them: gRPC's BYTES tensors hold
nothing else, and REST shows them as strings.

Imports MLServer, numpy and pandas: only the MLServer runtime uses this module.
"""
from __future__ import annotations

import base64
import datetime
import json
from typing import Any, Dict, List, Optional

import numpy as np
import pandas as pd
from mlserver.codecs import (NumpyCodec, PandasCodec, RequestCodec, get_decoded_or_raw,
                             register_request_codec)
from mlserver.codecs.base import find_request_codec
from mlserver.types import (InferenceRequest, InferenceResponse, MetadataTensor, Parameters,
                            ResponseOutput)

from tinyserve import mlserver_metadata as metadata

JSON_TEXT = PandasCodec.JsonContentType  # "pd_json"


class TensorDictCodec(RequestCodec):
    """A dict of arrays <-> one tensor per key: the ``dict`` content type of MLServer's MLflow
    runtime (whose own codec imports MLflow)."""

    ContentType = metadata.ARRAYS

    @classmethod
    def can_encode(cls, payload: Any) -> bool:
        return isinstance(payload, dict) and all(isinstance(value, np.ndarray)
                                                 for value in payload.values())

    @classmethod
    def encode_response(cls, model_name: str, payload: Dict[str, np.ndarray],
                        model_version: Optional[str] = None, **kwargs: Any) -> InferenceResponse:
        outputs = [NumpyCodec.encode_output(name, value) for name, value in payload.items()]
        return InferenceResponse(model_name=model_name, model_version=model_version,
                                 outputs=outputs,
                                 parameters=Parameters(content_type=cls.ContentType))

    @classmethod
    def decode_response(cls, response: InferenceResponse) -> Dict[str, np.ndarray]:
        return {output.name: NumpyCodec.decode_output(output) for output in response.outputs}

    @classmethod
    def encode_request(cls, payload: Dict[str, np.ndarray], **kwargs: Any) -> InferenceRequest:
        inputs = [NumpyCodec.encode_input(name, value) for name, value in payload.items()]
        return InferenceRequest(inputs=inputs,
                                parameters=Parameters(content_type=cls.ContentType))

    @classmethod
    def decode_request(cls, request: InferenceRequest) -> Dict[str, Any]:
        return {item.name: get_decoded_or_raw(item) for item in request.inputs}


if find_request_codec(content_type=metadata.ARRAYS) is None:  # mlserver-mlflow's may be there
    register_request_codec(TensorDictCodec)


def metadata_tensors(found: List[metadata.Tensor]) -> List[MetadataTensor]:
    return [MetadataTensor(name=t.name, datatype=t.datatype, shape=t.shape,
                           parameters=Parameters(content_type=t.content_type)) for t in found]


def encode_prediction(prediction: Any, model_name: str,
                      model_version: Optional[str]) -> InferenceResponse:
    """A model's prediction as a V2 response (see the module docstring)."""
    if isinstance(prediction, pd.DataFrame):
        outputs = [column_output(str(name), prediction[name]) for name in prediction.columns]
        return InferenceResponse(model_name=model_name, model_version=model_version,
                                 outputs=outputs,
                                 parameters=Parameters(content_type=PandasCodec.ContentType))
    if isinstance(prediction, dict):
        arrays = {str(key): as_array(value) for key, value in prediction.items()}
        return TensorDictCodec.encode_response(model_name, arrays, model_version)
    output = NumpyCodec.encode_output("output-1", as_array(prediction))  # MLServer's own name
    return InferenceResponse(model_name=model_name, model_version=model_version,
                             outputs=[output],
                             parameters=Parameters(content_type=NumpyCodec.ContentType))


def column_output(name: str, series: pd.Series) -> ResponseOutput:
    """One DataFrame column as ``PandasCodec`` writes it, once it is in a form it takes."""
    series = series.rename(name)
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        return PandasCodec.encode_outputs(series.to_frame())[0]
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        numbers = series.to_numpy(dtype="float64", na_value=np.nan) if series.hasnans \
            else series.to_numpy()
        return PandasCodec.encode_outputs(pd.Series(numbers, name=name).to_frame())[0]
    values = [text_value(value) for value in series.tolist()]
    if all(isinstance(value, (str, bytes)) for value in values):
        column = pd.Series(values, name=name, dtype=object)
        return PandasCodec.encode_outputs(column.to_frame())[0]
    texts = [json_text(value).encode("utf-8") for value in values]
    return ResponseOutput(name=name, shape=[len(texts), 1], datatype="BYTES", data=texts,
                          parameters=Parameters(content_type=JSON_TEXT))


def as_array(value: Any) -> np.ndarray:
    """An array ``NumpyCodec`` can write: numbers and booleans as they are, strings and
    bytes as texts, anything else (dicts, ``None``, dates, mixed lists) as JSON texts."""
    if isinstance(value, (pd.Series, pd.Index)):
        value = value.to_numpy(dtype=object if not isinstance(value.dtype, np.dtype) else None)
    if isinstance(value, (str, bytes, dict)) or np.ndim(value) == 0:
        value = [value]
    try:
        array = np.asarray(value)
    except ValueError:  # ragged nesting
        array = np.empty(len(value), dtype=object)
        array[:] = list(value)
    if array.dtype.kind in "biuf":
        return array
    if array.dtype.kind in "Mm":  # tolist() would give int nanoseconds for datetime64[ns]
        return np.datetime_as_string(array) if array.dtype.kind == "M" else array.astype(str)
    items = [text_value(item) for item in array.ravel().tolist()]
    texts = np.empty(len(items), dtype=object)
    texts[:] = [as_bytes(item) for item in items]
    return texts.reshape(array.shape)


def as_bytes(value: Any) -> bytes:
    """A BYTES tensor element: gRPC carries bytes only (REST shows them as text)."""
    if isinstance(value, bytes):
        return value
    return (value if isinstance(value, str) else json_text(value)).encode("utf-8")


def text_value(value: Any) -> Any:
    """Numpy scalars as Python values, dates and times in ISO format, missing values None."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return value


def json_text(value: Any) -> str:
    """One value as JSON text (``None`` -> ``null``, bytes in base64 as ``/invocations``
    writes them); what JSON cannot hold (NaN inside a list, sets...), as ``str``."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, default=json_default)
    except (TypeError, ValueError):
        return str(value)


def json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return base64.encodebytes(value).decode("ascii")
    converted = text_value(value)
    if converted is value:
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
    return converted
