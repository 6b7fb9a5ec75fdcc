"""What tinyserve needs from an MLflow tracking / registry store to turn a model URI into files.

Three stores implement ``TrackingStore``: a SQLite database read with ``sqlite3`` (read-only),
a file store (the ``mlruns`` layout) and a tracking server over its REST API. Each answers only
the handful of lookups ``runs:/`` and ``models:/`` URIs need; nothing is ever written.
"""
from __future__ import annotations

from typing import List, NamedTuple, Optional

try:
    from typing import Protocol
except ImportError:  # pragma: no cover - Python < 3.8 is not supported anyway
    Protocol = object  # type: ignore[assignment]


class StoreError(Exception):
    """A lookup failed; one line naming what was not found and where tinyserve looked."""


class StoreUnreachable(StoreError):
    """The store could not be asked at all (connection refused, DNS, timeout, TLS): a cached
    copy of the model may be served instead."""


class RunInfo(NamedTuple):
    run_id: str
    experiment_id: str
    artifact_uri: str  # the run's artifact root, e.g. file:///.../artifacts or mlflow-artifacts:/...


class LoggedModelInfo(NamedTuple):
    model_id: str  # "m-..."
    name: str
    experiment_id: str
    source_run_id: Optional[str]
    artifact_location: str  # the model's directory (holds MLmodel)


class ModelVersionInfo(NamedTuple):
    name: str
    version: int
    source: str  # what was registered: runs:/..., models:/m-..., or a storage URI
    storage_location: Optional[str]  # where MLflow 3 keeps the files, when it says
    run_id: Optional[str]
    model_id: Optional[str]
    current_stage: str

    @property
    def download_uri(self) -> str:
        """MLflow's ``get_model_version_download_uri``: storage location, else source."""
        return self.storage_location or self.source


class TrackingStore(Protocol):
    """The lookups behind ``runs:/`` and ``models:/`` URIs (all raise StoreError when absent)."""

    description: str  # e.g. "the SQLite store sqlite:///mlflow.db": used in error messages

    def get_run(self, run_id: str) -> RunInfo: ...

    def find_logged_models(self, experiment_id: str, name: str) -> List[LoggedModelInfo]:
        """Logged models of that name in the experiment (empty list when none)."""

    def get_logged_model(self, model_id: str) -> LoggedModelInfo: ...

    def get_model_version(self, name: str, version: int) -> ModelVersionInfo: ...

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersionInfo: ...

    def get_latest_version(self, name: str, stage: Optional[str] = None) -> ModelVersionInfo:
        """The highest version number (of ``stage`` when given, case-insensitive), ignoring
        deleted versions: MLflow's ``models:/<name>/latest`` and ``models:/<name>/<stage>``."""
