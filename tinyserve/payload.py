"""Request bodies in, neutral request values out: Content-Type, JSON decoding, format keys.

Standard library only (no numpy/pandas): this is the first step of every ``/invocations``
request and of ``tinyserve predict``. It decides which of MLflow's input formats a JSON body
uses and splits it into data and params; ``frames`` then turns the data into what the model
receives. Error texts are MLflow 3.17's, so clients that match on them keep working
(spec sections 3 and 4).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Collection, Dict, List, Optional, Tuple

from tinyserve.errors import ScoringError, UnsupportedMediaType

# --------------------------------------------------------------------------------------------
# Content-Type (spec 3)
# --------------------------------------------------------------------------------------------

# media type -> payload kind. `application/csv` is a deliberate addition (MLflow's docs use it).
MEDIA_TYPES = {
    "application/json": "json",
    "text/csv": "csv",
    "application/csv": "csv",
    "application/vnd.apache.parquet": "parquet",
}

# MLflow's accepted list, rendered as in its 415 text (kept as is, without application/csv).
MLFLOW_CONTENT_TYPES = ["text/csv", "application/json", "application/vnd.apache.parquet"]

PROTOCOL_NOTE = (
    "IMPORTANT: The MLflow Model scoring protocol has changed in MLflow version 2.0. If you are"
    " seeing this error, you are likely using an outdated scoring request format. To resolve the"
    " error, either update your request format or adjust your MLflow Model's requirements file to"
    " specify an older version of MLflow (for example, change the 'mlflow' requirement specifier"
    " to 'mlflow==1.30.0'). If you are making a request using the MLflow client"
    " (e.g. via `mlflow.pyfunc.spark_udf()`), upgrade your MLflow client to a version >= 2.0 in"
    " order to use the new request format. For more information about the updated MLflow"
    " Model scoring protocol in MLflow 2.0, see"
    " https://mlflow.org/docs/latest/models.html#deploy-mlflow-models."
)

ONLY_UTF8 = "The scoring server only supports UTF-8"


def _unquote(value: str) -> str:
    """Undo an RFC 9110 quoted-string (`"utf-8"` -> `utf-8`, `\\x` -> `x`)."""
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _parameters(pieces: List[str]) -> Dict[str, str]:
    """`key=value` pieces -> {lower-cased key: value}; later duplicates win, empty pieces skip."""
    params: Dict[str, str] = {}
    for piece in pieces:
        if not piece:
            continue  # a trailing or doubled `;` (RFC 9110 allows empty parameters)
        key, _, value = piece.partition("=")
        params[key.strip().lower()] = _unquote(value.strip())
    return params


def parse_content_type(header: Optional[str]) -> str:
    """The payload kind ("json" | "csv" | "parquet") for a Content-Type header value.

    Checks run in MLflow's order (charset, then unknown parameters, then the media type) and
    refuse with MLflow's three 415 texts. Unlike MLflow, matching follows RFC 9110: the type and
    parameter names are case-insensitive, whitespace around `;` and `=` and a trailing `;` are
    fine, the charset value is case-insensitive and may be quoted, and a missing header is
    refused like an empty one (MLflow answers 500).
    """
    raw = "" if header is None else header
    pieces = [piece.strip() for piece in raw.split(";")]
    media_type = pieces[0].lower()
    params = _parameters(pieces[1:])
    if params.get("charset", "utf-8").lower() != "utf-8":
        raise UnsupportedMediaType(ONLY_UTF8)
    unknown = [key for key in params if key != "charset"]
    if unknown:
        raise UnsupportedMediaType(
            f"Unrecognized content type parameters: {', '.join(unknown)}. {PROTOCOL_NOTE}"
        )
    kind = MEDIA_TYPES.get(media_type)
    if kind is None:
        raise UnsupportedMediaType(
            "This predictor only supports the following content types:"
            f" Types: {MLFLOW_CONTENT_TYPES}. Got '{raw}'."
        )
    return kind


# --------------------------------------------------------------------------------------------
# JSON decoding (spec 4.1)
# --------------------------------------------------------------------------------------------

# json.loads(bytes) decodes, then runs the default decoder without json.loads(str)'s BOM check.
_DECODER = json.JSONDecoder()


def _invalid_json(error: Exception, body: bytes) -> ScoringError:
    return ScoringError(
        "Invalid input. Ensure that input is a valid JSON formatted string. "
        f"Error: '{error!r}'\nInput: \n{body!r}\n"
    )


TOO_DEEP = "Invalid input. The JSON document is nested too deeply to be parsed."


def decode_json(body: bytes) -> Any:
    """Parse a JSON body the way ``json.loads(bytes)`` does.

    UTF-8/16/32 (with or without BOM) are auto-detected whatever the charset said; `NaN`,
    `Infinity` and `-Infinity` are accepted; the last duplicate key wins. Whatever nesting the
    parser takes is accepted, as in MLflow; deeper documents hit Python's recursion limit,
    which MLflow answers with a bare 500 and tinyserve, deliberately, with a 400. So does an
    integer literal longer than Python converts (4300 digits): MLflow 500, tinyserve 400.
    """
    encoding = json.detect_encoding(body)
    try:
        text = body.decode(encoding, "surrogatepass")
    except UnicodeDecodeError as error:
        raise _invalid_json(error, body) from error
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as error:
        raise _invalid_json(error, body) from error
    except RecursionError as error:
        raise ScoringError(TOO_DEEP) from error
    except ValueError as error:  # an integer of more than 4300 digits (sys.int_info)
        raise _invalid_json(error, body) from error


# --------------------------------------------------------------------------------------------
# Top-level shape and format keys (spec 4.2-4.4, 4.10)
# --------------------------------------------------------------------------------------------

LLM_KEYS = ("messages", "prompt", "input")
FORMAT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
PARAMS_KEY = "params"

# MLflow renders a Python set here; its order changes per process, so any order is faithful.
REQUIRED_INPUT_FORMAT = (
    "The input must be a JSON dictionary with exactly one of the input fields "
    "{'instances', 'inputs', 'dataframe_records', 'dataframe_split'}"
)


@dataclass
class JsonRequest:
    """A JSON request split into what the model gets and how the answer is wrapped."""

    data: Any  # LLM: the dict minus param keys; wrapped: the value under the format key
    # "llm" | "dataframe_split" | "dataframe_records" | "inputs" | "instances" | "type_hint"
    format: str
    params: Any  # raw `params` value (None when absent); LLM: dict of the param-name keys
    unwrap: bool  # True for unified-LLM requests: the response is not wrapped in "predictions"


def _require_object(doc: Any) -> Dict[str, Any]:
    if isinstance(doc, dict):
        return doc
    if isinstance(doc, list):
        raise ScoringError(f"Invalid input. {REQUIRED_INPUT_FORMAT}. Received a list.")
    raise ScoringError(
        f"Invalid input. {REQUIRED_INPUT_FORMAT}. Received unexpected input type '{type(doc)}."
    )


def _split_llm(doc: Dict[str, Any], param_names: Collection[str]) -> Tuple[dict, dict]:
    data: Dict[str, Any] = {}
    params: Dict[str, Any] = {}
    for key, value in doc.items():
        (params if key in param_names else data)[key] = value
    return data, params


def split_json_request(
    doc: Any, param_names: Collection[str] = (), type_hint_model: bool = False
) -> JsonRequest:
    """Classify a decoded JSON document (spec 4.2-4.4, 4.10).

    A unified-LLM payload (any of `messages`, `prompt`, `input`) wins over format keys; its
    keys named like a params-schema entry become params, everything else stays data.
    Otherwise exactly one format key must be present (type-hint models: `inputs` must be);
    other top-level keys are ignored.
    """
    doc = _require_object(doc)
    if any(key in doc for key in LLM_KEYS):
        data, params = _split_llm(doc, frozenset(param_names))
        return JsonRequest(data=data, format="llm", params=params, unwrap=True)
    formats = {key: value for key, value in doc.items() if key in FORMAT_KEYS}
    params = doc.get(PARAMS_KEY)
    if type_hint_model:
        if "inputs" not in formats:
            raise ScoringError(
                "Request payload must be a dictionary with 'inputs' key when the model contains"
                f" a valid type hint. Found keys in payload: {formats.keys()}.",
                error_code="INVALID_PARAMETER_VALUE",
            )
        return JsonRequest(data=formats["inputs"], format="type_hint", params=params, unwrap=False)
    if len(formats) != 1:
        raise ScoringError(
            f"{REQUIRED_INPUT_FORMAT}. Received dictionary with input fields: "
            f"{list(formats.keys())}. {PROTOCOL_NOTE}"
        )
    (key, value), = formats.items()
    return JsonRequest(data=value, format=key, params=params, unwrap=False)
