"""``TinyserveRuntime``: an MLServer runtime that serves MLflow models with tinyserve, not MLflow.

MLServer imports it by its dotted path, ``tinyserve.mlserver.TinyserveRuntime``: from
``tinyserve serve --enable-mlserver`` (``tinyserve.mlserver_cli``), from a ``model-settings.json``
or from ``MLSERVER_MODEL_IMPLEMENTATION`` (KServe, Seldon Core). ``parameters.uri`` names the
model directory; ``parameters.extra`` may set ``timeout`` (seconds, for ``/invocations``; none
by default), ``max_body_size`` (bytes) and ``debug`` (stack traces in error bodies).

Two ways in, one pipeline:

- ``/invocations``, ``/ping``, ``/health`` and ``/version`` are MLServer custom handlers that
  hand the request to the very WSGI app ``tinyserve serve`` runs (``tinyserve.wsgi_app``), so
  both engines give the same status, headers and body: same Scorer, formats, params and errors.
- V2 inference (REST and gRPC) decodes the request with MLServer's codecs, by the content types
  the signature gives (``tinyserve.mlserver_metadata``), then calls the same
  ``PyfuncModel.predict`` (schema and params enforcement; a ``ScoringError`` keeps its status)
  and writes the prediction as tensors (``tinyserve.mlserver_v2``).

Predictions run on a thread pool, so MLServer's event loop keeps answering health checks.
Handler arguments are plain bytes and strings: with parallel workers MLServer pickles them to a
worker process. Loading runs code from the model directory: serve only trusted models.
"""
from __future__ import annotations

import asyncio
import io
import logging
import sys
from typing import Any, Dict, List, Optional, Tuple

from fastapi import Depends, Header, Request
from fastapi.responses import Response
from mlserver import MLModel
from mlserver.codecs import PandasCodec
from mlserver.errors import MLServerError
from mlserver.handlers import custom_handler
from mlserver.settings import ModelParameters
from mlserver.types import InferenceRequest, InferenceResponse
from mlserver.utils import get_model_uri

from tinyserve import mlserver_metadata as v2
from tinyserve.errors import ScoringError
from tinyserve.mlserver_v2 import encode_prediction, metadata_tensors

logger = logging.getLogger("tinyserve")

LOADING = ScoringError("The model is still loading; retry in a moment.",
                       "TEMPORARILY_UNAVAILABLE", status=503)
# parameters.extra key -> keyword of tinyserve.wsgi_app
EXTRA_SETTINGS = {"timeout": "timeout", "max_body_size": "max_body_size", "debug": "debug"}


async def request_body(request: Request) -> bytes:
    """The body as bytes: FastAPI resolves it in the server process, so a worker gets bytes."""
    return await request.body()


class TinyserveRuntime(MLModel):
    """One MLflow model served by MLServer through tinyserve's loader and scoring pipeline."""

    wsgi_app: Any = None  # tinyserve's WSGI app, once loaded
    pyfunc: Any = None  # its PyfuncModel

    async def load(self) -> bool:
        import tinyserve

        path = await get_model_uri(self.settings)
        extra = (self.settings.parameters.extra if self.settings.parameters else None) or {}
        options = {keyword: extra[key] for key, keyword in EXTRA_SETTINGS.items() if key in extra}
        self.wsgi_app = tinyserve.wsgi_app(path, metrics=False, **options)
        self.pyfunc = self.wsgi_app.scorer.model
        self._publish_metadata()
        return True

    def _publish_metadata(self) -> None:
        """Inputs, outputs and the request content type from the signature, unless the
        model settings already give them."""
        schema = self.pyfunc.input_schema
        outputs = self.pyfunc.loaded.signature.outputs if self.pyfunc.loaded.signature else None
        if not self.inputs:
            self.inputs = metadata_tensors(v2.tensors(schema, v2.INPUT_PREFIX))
        if not self.outputs:
            self.outputs = metadata_tensors(v2.tensors(outputs, v2.OUTPUT_PREFIX))
        if self.settings.parameters is None:
            self.settings.parameters = ModelParameters()
        if not self.settings.parameters.content_type:
            self.settings.parameters.content_type = v2.request_content_type(schema)

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        try:
            data = self.decode_request(payload, default_codec=PandasCodec)
        except MLServerError:
            raise
        except Exception as error:  # a codec failing on the data it was given
            raise MLServerError(f"Cannot decode the V2 request: {error}") from None
        params = payload.parameters.model_extra if payload.parameters else None
        loop = asyncio.get_running_loop()
        try:
            prediction = await loop.run_in_executor(None, self.pyfunc.predict, data,
                                                    params or None)
        except ScoringError as error:
            raise MLServerError(error.message, status_code=error.status) from None
        try:
            return encode_prediction(prediction, self.name, self.version)
        except Exception as error:  # as /invocations: a JSON 500, never a bare one
            logger.error("The model's prediction cannot be written as V2 tensors",
                         exc_info=error)
            raise MLServerError(f"The model's prediction cannot be written as V2 tensors: "
                                f"{error}", status_code=500) from None

    @custom_handler(rest_path="/invocations", rest_method="POST")
    async def invocations_route(self, body: bytes = Depends(request_body),
                                content_type: Optional[str] = Header(default=None),
                                x_request_id: Optional[str] = Header(default=None)) -> Response:
        return await self.answer("POST", "/invocations", body, content_type, x_request_id)

    @custom_handler(rest_path="/ping", rest_method="GET")
    async def ping_route(self, x_request_id: Optional[str] = Header(default=None)) -> Response:
        return await self.answer("GET", "/ping", b"", None, x_request_id)

    @custom_handler(rest_path="/health", rest_method="GET")
    async def health_route(self, x_request_id: Optional[str] = Header(default=None)
                           ) -> Response:
        return await self.answer("GET", "/health", b"", None, x_request_id)

    @custom_handler(rest_path="/version", rest_method="GET")
    async def version_route(self, x_request_id: Optional[str] = Header(default=None)
                            ) -> Response:
        return await self.answer("GET", "/version", b"", None, x_request_id)

    async def answer(self, method: str, path: str, body: bytes, content_type: Optional[str],
                     request_id: Optional[str]) -> Response:
        """tinyserve's own answer to the request (503 while the model is still loading)."""
        if self.wsgi_app is None:
            return Response(LOADING.to_json(), LOADING.status, media_type="application/json")
        environ = wsgi_environ(method, path, body, content_type, request_id)
        loop = asyncio.get_running_loop()
        status, headers, content = await loop.run_in_executor(None, call_wsgi, self.wsgi_app,
                                                              environ)
        return Response(content, status, headers=dict(headers))


def wsgi_environ(method: str, path: str, body: bytes, content_type: Optional[str],
                 request_id: Optional[str]) -> Dict[str, Any]:
    """The WSGI environ of a request MLServer has already read whole."""
    environ: Dict[str, Any] = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "REQUEST_URI": path, "SCRIPT_NAME": "",
        "QUERY_STRING": "", "SERVER_NAME": "mlserver", "SERVER_PORT": "0",
        "SERVER_PROTOCOL": "HTTP/1.1", "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http", "wsgi.multithread": True, "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if content_type is not None:
        environ["CONTENT_TYPE"] = content_type
    if request_id is not None:
        environ["HTTP_X_REQUEST_ID"] = request_id
    return environ


def call_wsgi(app: Any, environ: Dict[str, Any]) -> Tuple[int, List[Tuple[str, str]], bytes]:
    """Run a WSGI app to completion: (status, headers without Content-Length, body)."""
    started: List[Any] = []

    def start_response(status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [int(status.split(" ", 1)[0]), headers]
        return lambda data: None

    chunks = app(environ, start_response)
    try:
        content = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    status, headers = started
    kept = [(name, value) for name, value in headers if name.lower() != "content-length"]
    return status, kept, content
