"""Model URIs turned into a local model directory: paths, ``file://``, ``runs:/``, ``models:/``.

Store URIs are resolved by ``model_uri`` (MLflow's rules, without MLflow); a failure there is
one line naming what was not found and where tinyserve looked.
"""
from __future__ import annotations

import os
from urllib.parse import unquote, urlparse

from tinyserve.errors import ModelLoadError

STORE_SCHEMES = ("runs", "models")
DOWNLOAD_SCHEMES = ("mlflow-artifacts", "http", "https")


def resolve_model_uri(model_uri: str) -> str:
    """Return the absolute local directory a model URI names, or raise a one-line error."""
    if not model_uri:
        raise ModelLoadError("No model given: pass a model directory with -m/--model-uri.")
    parsed = urlparse(model_uri)
    scheme = parsed.scheme.lower()
    if scheme in STORE_SCHEMES or scheme in DOWNLOAD_SCHEMES:
        return _resolve_remote(model_uri)
    if scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ModelLoadError(f"file URIs must name a local path, got '{model_uri}'.")
        path = unquote(parsed.path)
    elif scheme and len(scheme) > 1:  # a cloud store and the like: the one-line advice
        from tinyserve.stores.artifacts import unsupported_storage_error

        raise ModelLoadError(str(unsupported_storage_error(model_uri)))
    else:
        path = model_uri
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.exists(path):
        raise ModelLoadError(f"Model directory not found: {path}")
    return path


def _resolve_remote(model_uri: str) -> str:
    from tinyserve.stores.base import StoreError

    try:
        if urlparse(model_uri).scheme.lower() in STORE_SCHEMES:
            from tinyserve.model_uri import resolve_store_uri

            return resolve_store_uri(model_uri)
        from tinyserve.model_uri import download_location

        return download_location(model_uri)
    except StoreError as error:
        raise ModelLoadError(str(error)) from None
