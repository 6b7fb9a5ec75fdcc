"""The one scoring pipeline: decode, shape, enforce, predict, encode.

``/invocations``, ``tinyserve predict`` and the MLServer shim all call ``Scorer``; none of them
re-implements a step. A ``Reply`` is plain data (status, content type, body bytes), so the
pipeline never sees WSGI.
"""
from __future__ import annotations

import logging
from typing import Any, NamedTuple, Optional, Tuple

from tinyserve.errors import ScoringError, UnsupportedMediaType
from tinyserve.payload import decode_json, parse_content_type, split_json_request

logger = logging.getLogger("tinyserve")

JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain; charset=utf-8"


class Reply(NamedTuple):
    status: int
    content_type: str
    body: bytes
    rows: int = 0  # rows given to the model, when it answered (for the metrics)


class Scored(NamedTuple):
    data: Any  # what the model was given (after layer A), e.g. a DataFrame
    prediction: Any  # what the model returned, not yet encoded
    unwrap: bool  # a unified-LLM request: the answer is not wrapped in {"predictions": ...}


class Scorer:
    """Turns a request body and its Content-Type into a ``Reply``, as MLflow's server would."""

    def __init__(self, model: Any, debug: bool = False) -> None:
        self.model = model
        self.debug = debug

    def score(self, body: bytes, content_type: Optional[str]) -> Reply:
        try:
            scored = self.run(body, content_type)
        except UnsupportedMediaType as error:
            return Reply(415, TEXT_TYPE, error.text.encode("utf-8"))
        except ScoringError as error:
            return self.error_reply(error)
        reply = self.encode(scored.prediction, scored.unwrap)
        if reply.status != 200:
            return reply
        return reply._replace(rows=1 if scored.unwrap else count_rows(scored.data))

    def run(self, body: bytes, content_type: Optional[str]) -> Scored:
        """Decode and predict; raises ScoringError / UnsupportedMediaType.

        For callers that write predictions their own way (``tinyserve predict``)."""
        data, params, unwrap = self.decode(body, content_type)
        return Scored(data, self.model.predict(data, params), unwrap)

    def decode(self, body: bytes, content_type: Optional[str]) -> Tuple[Any, Any, bool]:
        """Request bytes -> (model data after layer A, raw params, unwrap the response?)."""
        from tinyserve import frames

        kind = parse_content_type(content_type)
        schema = self.model.input_schema
        if kind == "csv":
            return frames.read_csv(body, schema), None, False
        if kind == "parquet":
            return frames.read_parquet(body), None, False
        request = split_json_request(
            decode_json(body), self.model.param_names, self.model.type_hint_model
        )
        return frames.build_json_input(request, schema), request.params, request.unwrap

    def encode(self, prediction: Any, unwrap: bool) -> Reply:
        from tinyserve.encode import encode_predictions

        try:
            return Reply(200, JSON_TYPE, encode_predictions(prediction, wrap=not unwrap))
        except (TypeError, ValueError, OverflowError) as error:
            logger.error("The model's prediction cannot be written as JSON", exc_info=error)
            return self.error_reply(
                ScoringError(
                    f"The model's prediction cannot be serialized to JSON: {error}",
                    "INTERNAL_ERROR",
                )
            )

    def error_reply(self, error: ScoringError) -> Reply:
        return Reply(error.status, JSON_TYPE, error.to_json(include_stack_trace=self.debug))

    def warm_up(self) -> Optional[str]:
        """Score the model's saved serving input example once, as a client would.

        None when that worked or the model has no example; otherwise why not (for ``/ready``).
        """
        spec = self.model.spec
        relative = (spec.saved_input_example_info or {}).get("serving_input_path")
        if not isinstance(relative, str):
            return None
        path = spec.resolve(relative)
        try:
            with open(path, "rb") as handle:
                body = handle.read()
        except OSError as error:
            return f"Cannot read the model's input example {path}: {error.strerror}"
        reply = self.score(body, JSON_TYPE)
        if reply.status != 200:
            return (f"The model's input example ({relative}) failed with HTTP {reply.status}: "
                    f"{reply.body[:500].decode('utf-8', 'replace')}")
        return None


def count_rows(data: Any) -> int:
    """How many rows the model was given: a table's or array's length, the first column's
    length for a dict of columns (named tensors), else 1 (one text, one object)."""
    if isinstance(data, dict):
        data = next((v for v in data.values() if not isinstance(v, (str, bytes))), None)
    if isinstance(data, (str, bytes)):
        return 1
    try:
        return len(data)
    except TypeError:
        return 1
