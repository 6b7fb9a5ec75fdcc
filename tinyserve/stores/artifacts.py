"""A model's files copied from where MLflow keeps them: local paths, or a tracking server's proxy.

Local artifact locations (plain paths, ``file:`` URIs) are copied, or served in place by the
caller (``is_local_uri`` / ``local_path``). ``mlflow-artifacts:`` URIs and
``http(s)://.../api/2.0/mlflow-artifacts/artifacts/...`` URLs are listed and downloaded through
the tracking server's proxied-artifact API, streamed to disk in blocks. Cloud object stores need
vendor SDKs tinyserve does not use; they fail with one line saying how to serve instead.
"""
from __future__ import annotations

import http.client
import os
import posixpath
import shutil
import urllib.parse
from typing import Any, List, Optional, Tuple

from tinyserve.stores.base import StoreError, StoreUnreachable
from tinyserve.stores.rest import RestStore

ARTIFACTS_ROUTE = "/api/2.0/mlflow-artifacts/artifacts"
PROXY_SCHEMES = ("mlflow-artifacts", "http", "https")
# Schemes MLflow reads through a vendor SDK or another artifact repository; "runs" and
# "models" are model URIs, never a place where files are.
SDK_SCHEMES = ("s3", "s3a", "s3n", "r2", "b2", "gs", "gcs", "wasbs", "wasb", "abfss", "abfs",
               "adl", "dbfs", "hdfs", "viewfs", "ftp", "sftp", "oss", "uc", "runs", "models")
BLOCK_SIZE = 1024 * 1024


def _scheme(uri: str) -> str:
    scheme = urllib.parse.urlsplit(uri).scheme.lower()
    return "" if len(scheme) == 1 else scheme  # C:\models is a Windows path, not a scheme


def is_local_uri(uri: str) -> bool:
    """A plain path or a ``file:`` URI: files the caller can read where they are."""
    return _scheme(uri) in ("", "file")


def local_path(uri: str) -> str:
    """The filesystem path of a plain path or a ``file:`` URI (percent-decoded, as MLflow)."""
    if _scheme(uri) != "file":
        if _scheme(uri):
            raise StoreError(f"Not a local path or file: URI: {uri}")
        return uri
    parsed = urllib.parse.urlsplit(uri)
    if parsed.netloc not in ("", "localhost", "127.0.0.1"):
        raise StoreError(f"The file URI {uri} names another host ({parsed.netloc}): tinyserve "
                         "reads only local files.")
    return urllib.parse.unquote(parsed.path)


def unsupported_storage_error(uri: str) -> StoreError:
    """The one line for artifacts tinyserve cannot read (a cloud store, a model URI...)."""
    scheme = _scheme(uri)
    if scheme in SDK_SCHEMES:
        return StoreError(
            f"The model's files are in {scheme} storage ({uri}), which needs a vendor SDK "
            "tinyserve does not use: serve the model through an MLflow tracking server with "
            "proxied artifacts (mlflow server --serve-artifacts), or download the model "
            "directory first and pass its path.")
    return StoreError(
        f"The model's files are at {uri}, and tinyserve does not read '{scheme}:' URIs: it "
        "reads local paths, file: URIs and a tracking server's proxied artifacts "
        "(mlflow-artifacts:); download the model directory first and pass its path.")


def download_artifacts(artifact_uri: str, destination: str,
                       rest: Optional[RestStore] = None) -> None:
    """Copy the directory tree ``artifact_uri`` names into ``destination`` (existing, empty).

    ``rest`` is the tracking server ``mlflow-artifacts:`` URIs without a host are resolved
    against (MLflow uses the tracking URI); its credentials are used for every proxied host.
    """
    scheme = _scheme(artifact_uri)
    if scheme in ("", "file"):
        _copy_local(local_path(artifact_uri), destination)
    elif scheme in PROXY_SCHEMES:
        server, root = proxied_location(artifact_uri, rest)
        _download_tree(server, root, destination, artifact_uri)
    else:
        raise unsupported_storage_error(artifact_uri)


def _copy_local(source: str, destination: str) -> None:
    if not os.path.isdir(source):
        what = "is not a directory" if os.path.exists(source) else "does not exist"
        raise StoreError(f"The model directory {source} {what}.")
    try:
        shutil.copytree(source, destination, dirs_exist_ok=True)
    except (OSError, shutil.Error) as error:
        raise StoreError(f"Copying the model directory {source} failed: {error}") from None


def proxied_location(artifact_uri: str, rest: Optional[RestStore]) -> Tuple[RestStore, str]:
    """The server that proxies ``artifact_uri`` and the artifact path below its root.

    As MLflow's ``MlflowArtifactsRepository.resolve_uri``: ``mlflow-artifacts:/p`` uses the
    tracking server; ``mlflow-artifacts://host:port/p`` that host with the tracking server's
    scheme and path prefix; an http(s) URL the part before ``/api/2.0/mlflow-artifacts/artifacts``.
    """
    parsed = urllib.parse.urlsplit(artifact_uri)
    if parsed.scheme.lower() == "mlflow-artifacts":
        root = urllib.parse.unquote(parsed.path).strip("/")
        if not parsed.netloc:
            if rest is None:
                raise StoreError(
                    f"The model's files are at {artifact_uri}, which only a tracking server "
                    "can serve: set MLFLOW_TRACKING_URI to the server's http(s):// URL.")
            return rest, root
        if parsed.hostname and parsed.hostname.isdigit() and parsed.port is None:
            raise StoreError(f"The mlflow-artifacts URI {artifact_uri} has a port number "
                             f"({parsed.hostname}) but no host.")
        if rest is not None:
            tracking = urllib.parse.urlsplit(rest.base_url)
            base = urllib.parse.urlunsplit((tracking.scheme, parsed.netloc, tracking.path, "", ""))
            return rest.with_base_url(base), root
        return RestStore.from_env(f"http://{parsed.netloc}"), root
    anchor = parsed.path.find(ARTIFACTS_ROUTE)
    if anchor < 0:
        raise StoreError(f"The model's files are at {artifact_uri}, which is not a tracking "
                         f"server's proxied-artifact URL (no {ARTIFACTS_ROUTE} in its path).")
    base = urllib.parse.urlunsplit(
        (parsed.scheme, parsed.netloc, parsed.path[:anchor], "", ""))
    root = urllib.parse.unquote(parsed.path[anchor + len(ARTIFACTS_ROUTE):]).strip("/")
    if rest is not None:
        return (rest if rest.base_url == base else rest.with_base_url(base)), root
    return RestStore.from_env(base), root


def _safe_parts(name: Any, listed: str, server: RestStore) -> List[str]:
    """A listing entry as path segments; names that could leave the destination are refused."""
    text = name if isinstance(name, str) else ""
    parts = text.split("/")
    if (not text or text.startswith("/") or "\\" in text or "\x00" in text
            or any(part in ("", ".", "..") for part in parts)
            or (len(text) >= 2 and text[1] == ":")):
        raise StoreError(f"The tracking server {server.base_url} listed an unsafe artifact "
                         f"path {name!r} under '{listed}': refusing to download it.")
    return parts


def _inside(path: str, destination: str) -> bool:
    root = os.path.realpath(destination)
    return os.path.realpath(path).startswith(root + os.sep)


def _download_tree(server: RestStore, root: str, destination: str, artifact_uri: str) -> None:
    pending: List[Tuple[str, str]] = [("", destination)]  # (path below root, local directory)
    found = False
    while pending:
        relative, local_dir = pending.pop()
        listed = posixpath.join(root, relative) if relative else root
        answer = server.get_json(ARTIFACTS_ROUTE, params={"path": listed} if listed else None)
        for entry in answer.get("files", []):
            found = True
            parts = _safe_parts(entry.get("path"), listed, server)
            target = os.path.join(local_dir, *parts)
            if not _inside(target, destination):
                raise StoreError(f"The tracking server {server.base_url} listed an artifact path "
                                 f"{entry.get('path')!r} that leaves the download directory.")
            child = posixpath.join(relative, *parts) if relative else posixpath.join(*parts)
            if entry.get("is_dir"):
                os.makedirs(target, exist_ok=True)
                pending.append((child, target))
            else:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                remote = posixpath.join(root, child) if root else child
                _download_file(server, remote, target, entry.get("file_size"))
    if not found:
        raise StoreError(f"No files at {artifact_uri} on {server.description}: the model's "
                         "artifacts are missing (or the server does not proxy them).")


def _download_file(server: RestStore, remote: str, target: str,
                   expected_size: Optional[Any]) -> None:
    """Stream one artifact to ``target`` in blocks; a short download is an error."""
    endpoint = f"{ARTIFACTS_ROUTE}/{urllib.parse.quote(remote, safe='/')}"
    written = 0
    with server.open_url(endpoint, not_found=f"Artifact '{remote}'") as response, \
            open(target, "wb") as out:
        while True:
            try:
                block = response.read(BLOCK_SIZE)
            except (OSError, http.client.HTTPException) as error:
                raise StoreUnreachable(f"Downloading '{remote}' from {server.description} "
                                       f"failed: {error or type(error).__name__}") from None
            if not block:
                break
            out.write(block)
            written += len(block)
    if expected_size is not None and str(expected_size).isdigit() \
            and written != int(expected_size):
        raise StoreError(f"Downloading '{remote}' from {server.description} stopped after "
                         f"{written} of {int(expected_size)} bytes.")

