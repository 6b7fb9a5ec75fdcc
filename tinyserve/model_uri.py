"""``runs:/`` and ``models:/`` URIs turned into a model directory, as MLflow 3.17 resolves them.

- ``runs:/<run_id>/<path>``: a logged model called ``<path>``'s first part that the run
  produced (MLflow 3 keeps logged models outside the run's artifacts), else ``<path>`` among
  the run's own artifacts (the layout before MLflow 3). MLflow downloads both and lets the
  logged model's files win, which is the same choice.
- ``models:/<model_id>``: the logged model's artifact location (tracking store).
- ``models:/<name>/<version>``, ``/latest``, ``/<stage>``, ``@<alias>``: the model version's
  download location in the registry store (its storage location, else its source, which
  may itself be a ``models:/<model_id>`` or ``runs:/`` URI).

Local artifacts are served where they are. Remote ones (a tracking server's proxied
``mlflow-artifacts:``) are downloaded once into the cache (``cache``) and served from there,
also when the server cannot be reached later. Standard library only.
"""
from __future__ import annotations

import logging
import posixpath
from typing import NamedTuple, Optional, Tuple
from urllib.parse import urlparse

from tinyserve import cache
from tinyserve.stores import open_store, registry_uri, tracking_uri
from tinyserve.stores.base import StoreError, StoreUnreachable, TrackingStore

logger = logging.getLogger("tinyserve")

MODELS_URI_FORMS = ("Models URIs must be of the form 'models:/name/suffix' or "
                    "'models:/name@alias' where suffix is a version, stage, or the string "
                    "'latest' and where alias is a registered model alias. Only one of suffix "
                    "or alias can be defined at a time.")
RUNS_URI_FORM = "Runs URIs must be of the form 'runs:/<run_id>/run-relative/path/to/artifact'"


class ParsedModelUri(NamedTuple):
    model_id: Optional[str] = None
    name: Optional[str] = None
    version: Optional[int] = None
    stage: Optional[str] = None
    alias: Optional[str] = None


def is_store_uri(uri: str) -> bool:
    return urlparse(uri).scheme in ("runs", "models")


def parse_models_uri(uri: str) -> ParsedModelUri:
    """MLflow's ``_parse_model_uri``, with its error text."""
    path = urlparse(uri).path
    improper = StoreError(f"Not a proper models:/ URI: {uri}. {MODELS_URI_FORMS}")
    if not path.startswith("/") or len(path) <= 1:
        raise improper
    parts = path.lstrip("/").split("/")
    if len(parts) > 2 or not parts[0].strip():
        raise improper
    if len(parts) == 2:
        name, suffix = parts
        if not suffix.strip():
            raise improper
        if suffix.isdigit():
            return ParsedModelUri(name=name, version=int(suffix))
        if suffix.lower() == "latest":
            return ParsedModelUri(name=name)
        return ParsedModelUri(name=name, stage=suffix)
    if "@" in path:
        name, _, alias = parts[0].rpartition("@")
        if not alias.strip():
            raise improper
        return ParsedModelUri(name=name, alias=alias)
    return ParsedModelUri(model_id=parts[0])


def parse_runs_uri(uri: str) -> Tuple[str, str]:
    """(run id, artifact path) of ``runs:/<run_id>/<path>``; the path may be empty."""
    path = urlparse(uri).path
    run_id, _, artifact_path = path[1:].partition("/") if path.startswith("/") else ("", "", "")
    if not run_id:
        raise StoreError(f"Not a proper runs:/ URI: {uri}. {RUNS_URI_FORM}")
    return run_id, artifact_path.strip("/")


def _join(base: str, relative: str) -> str:
    if not relative:
        return base
    return base.rstrip("/") + "/" + posixpath.normpath(relative).lstrip("/")


def _run_artifact_uri(store: TrackingStore, uri: str) -> str:
    run_id, path = parse_runs_uri(uri)
    run = store.get_run(run_id)
    if path:
        name, _, rest = path.partition("/")
        produced = [model for model in store.find_logged_models(run.experiment_id, name)
                    if model.source_run_id == run_id]
        if produced:
            return _join(produced[0].artifact_location, rest)
    return _join(run.artifact_uri, path)


class StoreUris(NamedTuple):
    """The tracking and registry URIs in effect, looked up once per resolution (the default
    tracking URI depends on what ``./mlruns`` holds)."""

    tracking: str
    registry: str

    @classmethod
    def current(cls) -> "StoreUris":
        tracking = tracking_uri()
        return cls(tracking, registry_uri(tracking))


def _model_artifact_uri(uri: str, stores: StoreUris, depth: int) -> Tuple[str, TrackingStore]:
    parsed = parse_models_uri(uri)
    if parsed.model_id is not None:
        store = open_store(stores.tracking)
        return store.get_logged_model(parsed.model_id).artifact_location, store
    registry = open_store(stores.registry, role="registry URI")
    if parsed.version is not None:
        version = registry.get_model_version(parsed.name, parsed.version)
    elif parsed.alias is not None:
        version = registry.get_model_version_by_alias(parsed.name, parsed.alias)
    else:
        version = registry.get_latest_version(parsed.name, parsed.stage)
    location = version.download_uri
    if is_store_uri(location) and depth == 0:  # a version registered from runs:/ or models:/
        return artifact_uri_of(location, stores, depth + 1)
    return location, registry


def artifact_uri_of(uri: str, stores: StoreUris, depth: int = 0) -> Tuple[str, TrackingStore]:
    """Where the model's files are, and the store that said so (it may serve them too)."""
    if urlparse(uri).scheme == "runs":
        store = open_store(stores.tracking)
        return _run_artifact_uri(store, uri), store
    return _model_artifact_uri(uri, stores, depth)


def resolve_store_uri(uri: str) -> str:
    """The local model directory for a ``runs:/`` or ``models:/`` URI (raises StoreError)."""
    from tinyserve.stores.artifacts import is_local_uri, local_path
    from tinyserve.stores.rest import RestStore

    stores = StoreUris.current()
    try:
        location, store = artifact_uri_of(uri, stores)
    except StoreError as error:
        cached = cache.remembered(uri, *stores)
        if cached is None or not isinstance(error, StoreUnreachable):
            raise
        logger.warning("%s; serving the copy of %s cached on %s", error, uri, cached.when)
        return cached.path
    if is_local_uri(location):
        return local_path(location)
    path = _download(location, store if isinstance(store, RestStore) else None)
    cache.remember(uri, *stores, path)
    return path


def download_location(location: str) -> str:
    """A model given directly as an artifact location on a server (``mlflow-artifacts:``,
    ``http(s)://``): downloaded once into the cache. Cloud stores raise the one-line advice."""
    tracking = tracking_uri()
    rest = open_store(tracking) if urlparse(tracking).scheme in ("http", "https") else None
    return _download(location, rest)


def _download(location: str, rest: Optional[TrackingStore]) -> str:
    """The cached copy of a server-side artifact location (fetched once); other remote
    schemes raise the one-line advice."""
    from tinyserve.stores.artifacts import (PROXY_SCHEMES, download_artifacts,
                                            unsupported_storage_error)

    if urlparse(location).scheme.lower() not in PROXY_SCHEMES:
        raise unsupported_storage_error(location)
    return cache.fetch(location, lambda target: download_artifacts(location, target, rest))
