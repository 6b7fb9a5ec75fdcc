"""MLflow's file store (the ``mlruns`` layout), read-only, its ``meta.yaml`` files read with
tinyserve's YAML subset.

The layout, as MLflow 3.17's ``store/tracking/file_store.py`` and
``store/model_registry/file_store.py`` write it under the root::

    <experiment_id>/meta.yaml                  experiments (deleted ones move to .trash/)
    <experiment_id>/<run_id>/meta.yaml         runs: artifact_uri, lifecycle_stage, ...
    <experiment_id>/models/<model_id>/meta.yaml   logged models: artifact_location, ...
    models/<name>/meta.yaml                    registered models
    models/<name>/version-<n>/meta.yaml        versions: source, storage_location, current_stage
    models/<name>/aliases/<alias>              a file holding the version number

Nothing is created: MLflow's own FileStore makes a missing root (and a Default experiment).
"""
from __future__ import annotations

import os
import re
import urllib.parse
import urllib.request
from typing import Any, Dict, Iterator, List, Optional, Tuple

from tinyserve.errors import ModelLoadError
from tinyserve.stores.base import LoggedModelInfo, ModelVersionInfo, RunInfo, StoreError
from tinyserve.stores.rules import (DELETED_STAGE, LATEST_ALIAS, canonical_stage,
                                     model_id_from_source, order_logged_models, pick_latest)
from tinyserve.yaml_subset import parse_yaml

META = "meta.yaml"
TRASH = ".trash"
REGISTRY = "models"  # registered models under the root; logged models under <experiment>/models
RUN_SUBDIRS = ("metrics", "params", "artifacts")  # MLflow's check that a folder is a run
# MLflow's _RUN_ID_REGEX / _EXPERIMENT_ID_REGEX: ids that are plain folder names
_ID = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")
_ALIAS = re.compile(r"^[\w\-]+$")  # MLflow's _REGISTERED_MODEL_ALIAS_REGEX (non-empty)


def file_store_root(root: str) -> str:
    """MLflow's ``local_file_uri_to_path``: the path of ``file:`` URIs, and plain paths,
    percent-decoded (``file:./mlruns``, ``file:///abs/mlruns``, ``mlruns``)."""
    path = urllib.parse.urlparse(root).path if root.startswith("file:") else root
    return urllib.request.url2pathname(path)


class FileStore:
    """A read-only view of an MLflow file store directory."""

    def __init__(self, root: str, uri_role: str = "tracking URI") -> None:
        self.uri = root
        self.root = file_store_root(root)
        self.uri_role = uri_role  # "tracking URI" or "registry URI", for the missing-root message
        self.description = f"the file store {root}"

    # files ---------------------------------------------------------------------------------

    def _require_root(self) -> str:
        root = os.path.abspath(self.root)
        if not os.path.isdir(root):
            raise StoreError(f"The file store directory {root} does not exist (from the "
                             f"{self.uri_role} {self.uri})")
        return root

    def _read_meta(self, folder: str) -> Optional[Dict[str, Any]]:
        """The folder's meta.yaml as a mapping, or None when there is none."""
        path = os.path.join(folder, META)
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"Cannot read {path} in {self.description}: {exc}") from None
        try:
            meta = parse_yaml(text, source=path)
        except ModelLoadError as exc:
            raise StoreError(f"Cannot read {self.description}: {exc}") from None
        return meta if isinstance(meta, dict) else None

    def _experiment_dirs(self) -> Iterator[Tuple[str, str]]:
        """``(experiment_id, folder)`` of active then deleted experiments, as MLflow searches."""
        root = self._require_root()
        for parent in (root, os.path.join(root, TRASH)):
            try:
                names = sorted(os.listdir(parent))
            except OSError:
                continue
            for name in names:
                if parent == root and name in (TRASH, REGISTRY):
                    continue
                if os.path.isdir(os.path.join(parent, name)):
                    yield name, os.path.join(parent, name)

    def _experiment_dir(self, experiment_id: str) -> Optional[str]:
        if not _ID.fullmatch(experiment_id):
            return None
        root = self._require_root()
        for parent in (root, os.path.join(root, TRASH)):
            folder = os.path.join(parent, experiment_id)
            if experiment_id != REGISTRY and os.path.isdir(folder):
                return folder
        return None

    # tracking --------------------------------------------------------------------------------

    def get_run(self, run_id: str) -> RunInfo:
        """Deleted runs are returned too, as MLflow's ``get_run`` does."""
        if _ID.fullmatch(run_id):
            for experiment_id, folder in self._experiment_dirs():
                run_dir = os.path.join(folder, run_id)
                if not all(os.path.isdir(os.path.join(run_dir, sub)) for sub in RUN_SUBDIRS):
                    continue
                meta = self._read_meta(run_dir) or {}
                if str(meta.get("run_id")) != run_id or str(meta.get("experiment_id")) != experiment_id:
                    raise StoreError(f"Run {run_id!r} metadata is in an invalid state in "
                                     f"{self.description} ({os.path.join(run_dir, META)})")
                return RunInfo(run_id, experiment_id, str(meta.get("artifact_uri") or ""))
        else:
            self._require_root()
        raise StoreError(f"Run {run_id!r} not found in {self.description}")

    def find_logged_models(self, experiment_id: str, name: str) -> List[LoggedModelInfo]:
        """Active logged models of that name in the experiment, newest first (MLflow's order)."""
        folder = self._experiment_dir(experiment_id)
        models_dir = os.path.join(folder, REGISTRY) if folder else ""
        if not os.path.isdir(models_dir):
            return []
        found = []
        for model_id in sorted(os.listdir(models_dir)):
            meta = self._read_meta(os.path.join(models_dir, model_id))
            if (meta is None or meta.get("lifecycle_stage") == "deleted"
                    or str(meta.get("experiment_id")) != experiment_id or meta.get("name") != name):
                continue
            found.append((meta.get("creation_timestamp") or 0, self._logged_model(meta)))
        return order_logged_models(found)

    def get_logged_model(self, model_id: str) -> LoggedModelInfo:
        if _ID.fullmatch(model_id):
            for experiment_id, folder in self._experiment_dirs():
                meta = self._read_meta(os.path.join(folder, REGISTRY, model_id))
                if meta is None or meta.get("lifecycle_stage") == "deleted":
                    continue
                if str(meta.get("experiment_id")) != experiment_id:
                    raise StoreError(f"Logged model {model_id!r} metadata is in an invalid state "
                                     f"in {self.description}")
                return self._logged_model(meta)
        else:
            self._require_root()
        raise StoreError(f"Logged model {model_id!r} not found in {self.description}")

    @staticmethod
    def _logged_model(meta: Dict[str, Any]) -> LoggedModelInfo:
        return LoggedModelInfo(str(meta.get("model_id")), str(meta.get("name")),
                               str(meta.get("experiment_id")), meta.get("source_run_id") or None,
                               str(meta.get("artifact_location") or ""))

    # registry --------------------------------------------------------------------------------

    def _registered_model_dir(self, name: str) -> str:
        """MLflow refuses names with path separators or '%'; here they are simply not found."""
        folder = os.path.join(self._require_root(), REGISTRY, name)
        unsafe = (not name or name in (".", "..") or "%" in name
                  or any(sep and sep in name for sep in ("/", "\\", os.sep, os.altsep)))
        if unsafe or not os.path.isdir(folder):
            raise StoreError(f"No registered model named {name!r} in {self.description}")
        return folder

    def _versions(self, model_dir: str) -> Iterator[ModelVersionInfo]:
        for entry in sorted(os.listdir(model_dir)):
            if entry.startswith("version-") and os.path.isdir(os.path.join(model_dir, entry)):
                meta = self._read_meta(os.path.join(model_dir, entry))
                if meta is not None:
                    yield self._model_version(meta)

    def get_model_version(self, name: str, version: int) -> ModelVersionInfo:
        meta = self._read_meta(os.path.join(self._registered_model_dir(name), f"version-{int(version)}"))
        if meta is None or meta.get("current_stage") == DELETED_STAGE:
            raise StoreError(f"Registered model {name!r} has no version {version} in {self.description}")
        return self._model_version(meta)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersionInfo:
        """``latest`` (any case) is MLflow's reserved alias for the latest version."""
        if alias.lower() == LATEST_ALIAS:
            return self.get_latest_version(name)
        alias_file = os.path.join(self._registered_model_dir(name), "aliases", alias)
        if not _ALIAS.fullmatch(alias) or not os.path.isfile(alias_file):
            raise StoreError(f"Registered model {name!r} has no alias {alias!r} in {self.description}")
        with open(alias_file, encoding="utf-8") as handle:
            text = handle.read().strip()
        try:
            return self.get_model_version(name, int(text))
        except (ValueError, StoreError):
            raise StoreError(f"Registered model {name!r} alias {alias!r} points to version {text}, "
                             f"which is not in {self.description}") from None

    def get_latest_version(self, name: str, stage: Optional[str] = None) -> ModelVersionInfo:
        if stage is not None:
            canonical_stage(stage)  # an unknown stage fails before the lookup, as in MLflow
        versions = self._versions(self._registered_model_dir(name))
        return pick_latest(name, versions, stage, self.description)

    @staticmethod
    def _model_version(meta: Dict[str, Any]) -> ModelVersionInfo:
        source = str(meta.get("source") or "")
        return ModelVersionInfo(
            str(meta.get("name")), int(meta.get("version") or 0), source,
            meta.get("storage_location") or None, meta.get("run_id") or None,
            meta.get("model_id") or model_id_from_source(source),
            str(meta.get("current_stage") or "None"))
