"""MLflow's SQLite tracking / registry store, read with the standard ``sqlite3`` module, read-only.

The tables and columns are those MLflow 3.17's SQLAlchemy models create (``runs``,
``logged_models``, ``registered_models``, ``model_versions``, ``registered_model_aliases``).
The database is opened with ``mode=ro`` for each lookup: tinyserve never creates, migrates or
locks it for writing, unlike MLflow, which creates a missing database file.
"""
from __future__ import annotations

import os
import pathlib
import re
import sqlite3
from contextlib import closing
from typing import List, Optional, Sequence
from urllib.parse import parse_qsl, unquote

from tinyserve.stores.base import LoggedModelInfo, ModelVersionInfo, RunInfo, StoreError
from tinyserve.stores.rules import (DELETED_STAGE, LATEST_ALIAS, canonical_stage,
                                    model_id_from_source, order_logged_models, pick_latest)

# --- sqlite:/// URIs -------------------------------------------------------------------------

_SQLITE_URL = re.compile(r"^sqlite://(?P<host>[^/?]*)(?:/(?P<database>[^?]*))?(?:\?(?P<query>.*))?$",
                         re.IGNORECASE)


def sqlite_path_from_uri(uri: str) -> str:
    """The database path SQLAlchemy's ``make_url`` takes from ``sqlite:///<path>``:
    ``sqlite:///rel.db`` is relative to the current directory, ``sqlite:////abs.db`` absolute,
    the path is percent-decoded and ``?...`` holds driver options."""
    match = _SQLITE_URL.match(uri)
    if match is None or match.group("host"):
        raise StoreError(f"Not a SQLite store URI: {uri!r} (expected sqlite:///relative/path.db "
                         "or sqlite:////absolute/path.db)")
    database = unquote(match.group("database") or "")
    options = dict(parse_qsl(match.group("query") or ""))
    if options.get("uri", "").lower() in ("true", "1"):
        raise StoreError(f"SQLite URI filenames (?uri=true) are not supported: {uri!r}")
    if database in ("", ":memory:"):
        raise StoreError(f"The SQLite store {uri} is an in-memory database, which holds no models")
    return database


# --- the store -------------------------------------------------------------------------------

_RUN_COLUMNS = "run_uuid, experiment_id, artifact_uri"
_LOGGED_MODEL_COLUMNS = ("model_id, name, experiment_id, source_run_id, artifact_location, "
                         "creation_timestamp_ms")
_VERSION_COLUMNS = "name, version, source, storage_location, run_id, current_stage"


class SqliteStore:
    """A read-only view of an MLflow SQLite database (``sqlite:///mlflow.db``)."""

    def __init__(self, uri: str, uri_role: str = "tracking URI") -> None:
        self.uri = uri
        self.path = sqlite_path_from_uri(uri)
        self.uri_role = uri_role  # "tracking URI" or "registry URI", for the missing-file message
        self.description = f"the SQLite store {uri}"

    # connection ----------------------------------------------------------------------------

    def _query(self, sql: str, parameters: Sequence[object] = ()) -> List[tuple]:
        """All rows of one query, on a fresh read-only connection (never creates the file)."""
        path = os.path.abspath(self.path)
        if not os.path.isfile(path):
            raise StoreError(f"The SQLite database {path} does not exist (from the {self.uri_role} "
                             f"{self.uri}); tinyserve never creates it")
        # as_uri() percent-encodes '?', '#', '%' and spaces, as SQLite URI filenames require
        readonly = pathlib.Path(path).as_uri() + "?mode=ro"
        try:
            with closing(sqlite3.connect(readonly, uri=True)) as connection:
                return connection.execute(sql, tuple(parameters)).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot read {self.description} ({path}): {exc} (is it an MLflow "
                             "database at the 3.x schema? 'mlflow db upgrade' brings old ones "
                             "up to date)") from None

    # tracking --------------------------------------------------------------------------------

    def get_run(self, run_id: str) -> RunInfo:
        """Deleted runs are returned too, as MLflow's ``get_run`` does."""
        rows = self._query(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_uuid = ?", [run_id])
        if not rows:
            raise StoreError(f"Run {run_id!r} not found in {self.description}")
        run_uuid, experiment_id, artifact_uri = rows[0]
        return RunInfo(run_uuid, str(experiment_id), artifact_uri or "")

    def find_logged_models(self, experiment_id: str, name: str) -> List[LoggedModelInfo]:
        """Active logged models of that name in the experiment, newest first (MLflow's order)."""
        rows = self._query(
            f"SELECT {_LOGGED_MODEL_COLUMNS} FROM logged_models WHERE experiment_id = ? "
            "AND name = ? AND (lifecycle_stage IS NULL OR lifecycle_stage != 'deleted')",
            [experiment_id, name])
        return order_logged_models((row[5], self._logged_model(row)) for row in rows)

    def get_logged_model(self, model_id: str) -> LoggedModelInfo:
        rows = self._query(
            f"SELECT {_LOGGED_MODEL_COLUMNS} FROM logged_models WHERE model_id = ? "
            "AND (lifecycle_stage IS NULL OR lifecycle_stage != 'deleted')", [model_id])
        if not rows:
            raise StoreError(f"Logged model {model_id!r} not found in {self.description}")
        return self._logged_model(rows[0])

    @staticmethod
    def _logged_model(row: tuple) -> LoggedModelInfo:
        model_id, name, experiment_id, source_run_id, artifact_location = row[:5]
        return LoggedModelInfo(model_id, name, str(experiment_id), source_run_id or None,
                               artifact_location)

    # registry --------------------------------------------------------------------------------

    def get_model_version(self, name: str, version: int) -> ModelVersionInfo:
        self._require_registered_model(name)
        rows = self._query(f"SELECT {_VERSION_COLUMNS} FROM model_versions WHERE name = ? "
                           "AND version = ? AND current_stage != ?", [name, int(version), DELETED_STAGE])
        if not rows:
            raise StoreError(f"Registered model {name!r} has no version {version} in {self.description}")
        return self._model_version(rows[0])

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersionInfo:
        """``latest`` (any case) is MLflow's reserved alias for the latest version."""
        if alias.lower() == LATEST_ALIAS:
            return self.get_latest_version(name)
        self._require_registered_model(name)
        rows = self._query("SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?",
                           [name, alias])
        if not rows:
            raise StoreError(f"Registered model {name!r} has no alias {alias!r} in {self.description}")
        version = int(rows[0][0])
        try:
            return self.get_model_version(name, version)
        except StoreError:
            raise StoreError(f"Registered model {name!r} alias {alias!r} points to version {version}, "
                             f"which is not in {self.description}") from None

    def get_latest_version(self, name: str, stage: Optional[str] = None) -> ModelVersionInfo:
        if stage is not None:
            canonical_stage(stage)  # an unknown stage fails before the lookup, as in MLflow
        self._require_registered_model(name)
        rows = self._query(f"SELECT {_VERSION_COLUMNS} FROM model_versions WHERE name = ?", [name])
        return pick_latest(name, (self._model_version(row) for row in rows), stage, self.description)

    def _require_registered_model(self, name: str) -> None:
        if not self._query("SELECT 1 FROM registered_models WHERE name = ?", [name]):
            raise StoreError(f"No registered model named {name!r} in {self.description}")

    @staticmethod
    def _model_version(row: tuple) -> ModelVersionInfo:
        """MLflow's SQL schema keeps no model id for a version: it is read off a
        ``models:/m-...`` source."""
        name, version, source, storage_location, run_id, stage = row
        return ModelVersionInfo(name, int(version), source or "", storage_location or None,
                                run_id or None, model_id_from_source(source), stage or "None")
