"""Model URIs: a local path or a ``file://`` URI, turned into a model directory path."""
from __future__ import annotations

import os
from urllib.parse import unquote, urlparse

from tinyserve.errors import ModelLoadError


def resolve_model_uri(model_uri: str) -> str:
    """Return the absolute local directory a model URI names, or raise a one-line error."""
    if not model_uri:
        raise ModelLoadError("No model given: pass a model directory with -m/--model-uri.")
    parsed = urlparse(model_uri)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ModelLoadError(f"file URIs must name a local path, got '{model_uri}'.")
        path = unquote(parsed.path)
    elif parsed.scheme and len(parsed.scheme) > 1:
        raise ModelLoadError(
            f"Unsupported model URI scheme '{parsed.scheme}:' in '{model_uri}': "
            "tinyserve serves a local model directory or a file:// URI."
        )
    else:
        path = model_uri
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.exists(path):
        raise ModelLoadError(f"Model directory not found: {path}")
    return path
