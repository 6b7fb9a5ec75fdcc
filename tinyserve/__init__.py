"""tinyserve: serve MLflow-format models without MLflow.

Importing this package loads only the standard library; numpy, pandas, cloudpickle and waitress
are imported when a model is loaded or a server started.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load_model", "wsgi_app"]


def load_model(model_uri: str) -> Any:
    """Load a model directory (or ``file://`` URI) into a ``PyfuncModel`` with ``predict``."""
    from tinyserve.pyfunc import load_pyfunc

    return load_pyfunc(model_uri)


def wsgi_app(model_uri: str, **options: Any) -> Any:
    """A WSGI callable serving the model, for any WSGI host (gunicorn, uWSGI, mod_wsgi)."""
    from tinyserve.wsgi import create_app

    return create_app(model_uri, **options)
