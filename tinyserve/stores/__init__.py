"""Which MLflow store a ``runs:/`` or ``models:/`` URI is looked up in, chosen as MLflow 3.17 does.

The tracking URI comes from ``MLFLOW_TRACKING_URI``; unset, MLflow 3.17 uses ``./mlruns`` when
that directory already holds experiments (a numbered directory with a ``meta.yaml``) and
``sqlite:///mlflow.db`` in the current directory otherwise. The registry URI comes from
``MLFLOW_REGISTRY_URI`` and defaults to the tracking URI. Standard library only.
"""
from __future__ import annotations

import os
from typing import Optional
from urllib.parse import urlparse

from tinyserve.stores.base import StoreError, TrackingStore

DEFAULT_SQLITE_URI = "sqlite:///mlflow.db"
DEFAULT_FILE_STORE = "mlruns"
SERVER_SCHEMES = ("http", "https")
DATABASE_SCHEMES = ("postgresql", "mysql", "mssql", "oracle")
HOSTED_REGISTRIES = ("databricks", "databricks-uc", "uc")

__all__ = ["StoreError", "TrackingStore", "open_store", "registry_uri", "tracking_uri"]


def _has_file_store_data(root: str) -> bool:
    """MLflow's ``_has_existing_mlruns_data``: a numbered directory holding ``meta.yaml``."""
    try:
        with os.scandir(root) as entries:
            return any(entry.is_dir() and entry.name.isdigit()
                       and os.path.lexists(os.path.join(entry.path, "meta.yaml"))
                       for entry in entries)
    except OSError:
        return False


def tracking_uri() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    if _has_file_store_data(DEFAULT_FILE_STORE):
        return os.path.abspath(DEFAULT_FILE_STORE)
    return DEFAULT_SQLITE_URI


def registry_uri(tracking: Optional[str] = None) -> str:
    """``MLFLOW_REGISTRY_URI``, else the tracking URI (``tracking`` when already looked up)."""
    return os.environ.get("MLFLOW_REGISTRY_URI") or tracking or tracking_uri()


def open_store(uri: str, role: str = "tracking URI") -> TrackingStore:
    """The store behind a tracking or registry URI (raises StoreError for unsupported ones);
    ``role`` says which of the two it is, in a message about a missing local store."""
    scheme = urlparse(uri).scheme.lower()
    if uri.split(":", 1)[0].lower() in HOSTED_REGISTRIES:
        raise StoreError(
            f"The tracking store {uri!r} is a hosted service tinyserve does not talk to: "
            "download the model directory first and pass its path.")
    base_scheme = scheme.split("+", 1)[0]  # postgresql+psycopg2 and friends
    if scheme == "sqlite":
        from tinyserve.stores.sqlite import SqliteStore

        return SqliteStore(uri, uri_role=role)
    if scheme in SERVER_SCHEMES:
        from tinyserve.stores.rest import RestStore

        return RestStore.from_env(uri)
    if scheme == "file" or len(scheme) <= 1:  # a plain path, or a Windows drive letter
        from tinyserve.stores.files import FileStore

        return FileStore(uri, uri_role=role)
    if base_scheme in DATABASE_SCHEMES:
        raise StoreError(
            f"The tracking store {uri.split('@')[-1]} is a {base_scheme} database, which "
            "tinyserve does not read: serve through an MLflow tracking server in front of it "
            "(MLFLOW_TRACKING_URI=http://...), or download the model directory first.")
    raise StoreError(
        f"Unsupported tracking store URI {uri!r}: tinyserve reads sqlite:///, file: stores and "
        "MLflow tracking servers (http://, https://).")
