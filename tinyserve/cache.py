"""The download cache for models that live on a tracking server.

A model is downloaded into a temporary directory inside the cache and renamed into place
only when every file is there, so a half-downloaded model is never served. Artifacts under a
resolved location never change in MLflow, so a location is downloaded once. Which location a
``models:/name/latest`` or ``@alias`` URI pointed to is remembered too, so the model is served
from the cache when the server cannot be reached (with a warning, since the answer may be
stale). The cache directory is ``--cache-dir`` / ``TINYSERVE_CACHE_DIR``, else
``$XDG_CACHE_HOME/tinyserve`` or ``~/.cache/tinyserve``. Standard library only.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from typing import Callable, NamedTuple, Optional

CACHE_ENV = "TINYSERVE_CACHE_DIR"


class Remembered(NamedTuple):
    path: str
    when: str


def cache_dir() -> str:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return os.path.abspath(os.path.expanduser(configured))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tinyserve")


def _key(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:32]


def model_path(location: str) -> str:
    """Where the files of an artifact location live once downloaded."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", location.rstrip("/").rsplit("/", 1)[-1])[:40]
    return os.path.join(cache_dir(), "models", f"{_key(location)}-{readable or 'model'}")


def fetch(location: str, download: Callable[[str], None]) -> str:
    """The cached copy of ``location``, downloading it first (atomically) when missing."""
    final = model_path(location)
    if os.path.isdir(final):
        return final
    parent = os.path.dirname(final)
    os.makedirs(parent, exist_ok=True)
    partial = tempfile.mkdtemp(prefix=".partial-", dir=parent)
    try:
        download(partial)
        try:
            os.rename(partial, final)
        except OSError:  # another process finished the same download first: keep theirs
            if not os.path.isdir(final):
                raise
            shutil.rmtree(partial, ignore_errors=True)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


def _record_path(uri: str, tracking: str, registry: str) -> str:
    return os.path.join(cache_dir(), "uris", _key(uri, tracking, registry) + ".json")


def remember(uri: str, tracking: str, registry: str, path: str) -> None:
    """Note that ``uri`` (under these stores) resolved to the cached ``path``."""
    record = _record_path(uri, tracking, registry)
    os.makedirs(os.path.dirname(record), exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=os.path.dirname(record), prefix=".partial-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"uri": uri, "tracking_uri": tracking, "registry_uri": registry, "path": path,
                   "when": time.strftime("%Y-%m-%d %H:%M:%S %Z")}, handle)
    os.replace(temporary, record)


def remembered(uri: str, tracking: str, registry: str) -> Optional[Remembered]:
    """The cached copy ``uri`` last resolved to, if it is still there."""
    try:
        with open(_record_path(uri, tracking, registry), encoding="utf-8") as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    if not os.path.isdir(record.get("path", "")):
        return None
    return Remembered(record["path"], record.get("when", "an earlier run"))
