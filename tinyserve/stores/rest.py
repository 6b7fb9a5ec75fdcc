"""An MLflow tracking server read over its REST API with ``urllib``: runs, logged models, versions.

The endpoints are MLflow 3.17's (``protos/service.proto``, ``protos/model_registry.proto``):
``GET runs/get``, ``GET logged-models/<id>``, ``POST logged-models/search``,
``GET registered-models/get``, ``POST registered-models/get-latest-versions``,
``GET model-versions/get``, ``GET model-versions/get-download-uri`` and
``GET registered-models/alias``. Credentials, TLS settings and the timeout come from the same
environment variables MLflow's client reads. Every failure is a one-line ``StoreError`` naming
what was not found, or why the server could not be asked.
"""
from __future__ import annotations

import base64
import configparser
import http.client
import json
import os
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, List, Mapping, Optional

from tinyserve.stores.base import (LoggedModelInfo, ModelVersionInfo, RunInfo, StoreError,
                                   StoreUnreachable)

API = "/api/2.0/mlflow"
# MLflow's MLFLOW_HTTP_REQUEST_TIMEOUT default, in seconds.
MLFLOW_DEFAULT_TIMEOUT = 120.0
# MLflow retries these statuses with a backoff; tinyserve does a few quick retries.
TRANSIENT_STATUSES = (429, 500, 502, 503, 504)
RETRY_DELAYS = (0.5, 1.0, 2.0)
UNAVAILABLE_STATUSES = (502, 503, 504)
ERROR_BODY_LIMIT = 64 * 1024
NOT_FOUND_CODES = ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "RESOURCE_NOT_FOUND")
CREDENTIALS_HINT = "set MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD"
TLS_HINT = ("set MLFLOW_TRACKING_INSECURE_TLS=true to skip the certificate check, or "
            "MLFLOW_TRACKING_SERVER_CERT_PATH to the server's CA bundle")
TRUE_WORDS = ("true", "1")
FALSE_WORDS = ("false", "0")


class ServerError(StoreError):
    """The server answered with an error status; ``error_code`` is MLflow's when it sent JSON."""

    def __init__(self, message: str, status: int, error_code: str, server_message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.server_message = server_message


class ServerUnavailable(ServerError, StoreUnreachable):
    """502/503/504 after the retries: a gateway in front of a server that is down."""


def _env_flag(environ: Mapping[str, str], name: str) -> bool:
    """MLflow's boolean variables: true/false/1/0 in any case; anything else is an error."""
    value = environ.get(name)
    if value is None:
        return False
    if value.strip().lower() in TRUE_WORDS:
        return True
    if value.strip().lower() in FALSE_WORDS:
        return False
    raise StoreError(f"{name} must be true, false, 1 or 0, not {value!r}.")


def _credentials_file() -> Dict[str, str]:
    """``~/.mlflow/credentials`` ([mlflow] section), which MLflow reads under the env vars."""
    parser = configparser.ConfigParser()
    try:
        parser.read(os.path.expanduser(os.path.join("~", ".mlflow", "credentials")))
    except configparser.Error:
        return {}
    return dict(parser["mlflow"]) if parser.has_section("mlflow") else {}


def _ssl_context(insecure_tls: bool, server_cert_path: Optional[str],
                 client_cert_path: Optional[str]) -> Optional[ssl.SSLContext]:
    if insecure_tls and server_cert_path:
        raise StoreError("MLFLOW_TRACKING_INSECURE_TLS and MLFLOW_TRACKING_SERVER_CERT_PATH are "
                         "both set: set only one of them.")
    if not (insecure_tls or server_cert_path or client_cert_path):
        return None
    context = ssl.create_default_context(cafile=server_cert_path or None)
    if insecure_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if client_cert_path:
        context.load_cert_chain(client_cert_path)
    return context


class RestStore:
    """The lookups of ``TrackingStore`` answered by an MLflow tracking server (read-only)."""

    def __init__(self, base_url: str, token: Optional[str] = None,
                 username: Optional[str] = None, password: Optional[str] = None,
                 insecure_tls: bool = False, timeout: float = 30.0,
                 server_cert_path: Optional[str] = None,
                 client_cert_path: Optional[str] = None) -> None:
        parsed = urllib.parse.urlsplit(base_url.strip())
        if parsed.scheme.lower() not in ("http", "https") or not parsed.hostname:
            raise StoreError(f"Not a tracking server URL: {base_url!r} (expected http(s)://host).")
        if parsed.username is not None:  # http://user:pass@host: requests would use it too
            username = username or urllib.parse.unquote(parsed.username)
            password = password or urllib.parse.unquote(parsed.password or "")
            parsed = parsed._replace(netloc=parsed.netloc.rpartition("@")[2])
        self.base_url = urllib.parse.urlunsplit(
            (parsed.scheme.lower(), parsed.netloc, parsed.path.rstrip("/"), "", ""))
        self.description = f"the tracking server {self.base_url}"
        self.token = token or None
        self.username = username or None
        self.password = password or None
        self.insecure_tls = insecure_tls
        self.server_cert_path = server_cert_path or None
        self.client_cert_path = client_cert_path or None
        self.timeout = timeout
        context = _ssl_context(insecure_tls, self.server_cert_path, self.client_cert_path)
        handlers = [urllib.request.HTTPSHandler(context=context)] if context else []
        self._opener = urllib.request.build_opener(*handlers)

    @classmethod
    def from_env(cls, base_url: str, environ: Optional[Mapping[str, str]] = None) -> "RestStore":
        """Settings from MLflow's client variables (and ``~/.mlflow/credentials``)."""
        env = os.environ if environ is None else environ
        stored = _credentials_file() if environ is None else {}
        raw_timeout = env.get("MLFLOW_HTTP_REQUEST_TIMEOUT")
        try:
            timeout = float(raw_timeout) if raw_timeout else MLFLOW_DEFAULT_TIMEOUT
        except ValueError:
            raise StoreError(f"MLFLOW_HTTP_REQUEST_TIMEOUT must be a number of seconds, "
                             f"not {raw_timeout!r}.") from None
        return cls(
            base_url,
            token=env.get("MLFLOW_TRACKING_TOKEN"),
            username=env.get("MLFLOW_TRACKING_USERNAME") or stored.get("mlflow_tracking_username"),
            password=env.get("MLFLOW_TRACKING_PASSWORD") or stored.get("mlflow_tracking_password"),
            insecure_tls=_env_flag(env, "MLFLOW_TRACKING_INSECURE_TLS"),
            timeout=timeout,
            server_cert_path=env.get("MLFLOW_TRACKING_SERVER_CERT_PATH"),
            client_cert_path=env.get("MLFLOW_TRACKING_CLIENT_CERT_PATH"),
        )

    def with_base_url(self, base_url: str) -> "RestStore":
        """The same credentials and TLS settings for another server (artifacts elsewhere)."""
        return RestStore(base_url, self.token, self.username, self.password, self.insecure_tls,
                         self.timeout, self.server_cert_path, self.client_cert_path)

    # ---- HTTP ---------------------------------------------------------------------------

    def _headers(self) -> Dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "tinyserve"}
        # MLflow's http_request: Basic when both username and password are set, else Bearer.
        if self.username and self.password:
            pair = f"{self.username}:{self.password}".encode()
            headers["Authorization"] = "Basic " + base64.standard_b64encode(pair).decode()
        elif self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def url_for(self, path_or_url: str) -> str:
        if path_or_url.lower().startswith(("http://", "https://")):
            return path_or_url
        return self.base_url + "/" + path_or_url.lstrip("/")

    def open_url(self, path_or_url: str, params: Optional[Mapping[str, Any]] = None,
                 body: Optional[Any] = None, not_found: Optional[str] = None) -> Any:
        """Send one request (GET, or POST with a JSON ``body``) and return the open response.

        Errors become ``StoreError``: ``not_found`` (e.g. "Run 'x'") names the thing a 404
        means; other error statuses raise ``ServerError``. The caller closes the response.
        """
        url = self.url_for(path_or_url)
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        headers = self._headers()
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in range(len(RETRY_DELAYS) + 1):
            request = urllib.request.Request(url, data=data, headers=headers,
                                             method="POST" if data is not None else "GET")
            try:
                return self._opener.open(request, timeout=self.timeout)
            except urllib.error.HTTPError as error:
                if error.code in TRANSIENT_STATUSES and attempt < len(RETRY_DELAYS):
                    error.close()
                    time.sleep(RETRY_DELAYS[attempt])
                    continue
                raise self._http_error(error, path_or_url, not_found) from None
            except (OSError, ValueError, http.client.HTTPException) as error:  # URLError too
                raise self.connection_error(error) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def get_json(self, endpoint: str, params: Optional[Mapping[str, Any]] = None,
                 body: Optional[Any] = None, not_found: Optional[str] = None) -> Dict[str, Any]:
        """A REST call's JSON answer (``{}`` for an empty body, as MLflow's client)."""
        with self.open_url(endpoint, params=params, body=body, not_found=not_found) as response:
            try:
                raw = response.read()
            except (OSError, http.client.HTTPException) as error:
                raise self.connection_error(error) from None
        try:
            answer = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise StoreError(f"The tracking server {self.base_url} answered {endpoint} with "
                             "something that is not a JSON object: is it an MLflow tracking "
                             "server?")
        return answer

    def connection_error(self, error: BaseException) -> StoreError:
        """A one-line error for a failed exchange: StoreUnreachable for refused, DNS, timeout,
        TLS (a cached copy may then be served); StoreError for a URL urllib refuses."""
        reason = getattr(error, "reason", error)
        where = f"the tracking server {self.base_url}"
        if isinstance(error, ValueError):
            return StoreError(f"Cannot ask {where}: {error}")
        if isinstance(reason, ssl.SSLError) or isinstance(error, ssl.SSLError):
            return StoreUnreachable(f"TLS connection to {where} failed ({reason}): {TLS_HINT}.")
        if isinstance(reason, (socket.timeout, TimeoutError)):
            return StoreUnreachable(f"Cannot reach {where}: no answer within {self.timeout:g} s "
                                    "(MLFLOW_HTTP_REQUEST_TIMEOUT sets the limit).")
        text = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
        return StoreUnreachable(f"Cannot reach {where}: {text}")

    def _http_error(self, error: urllib.error.HTTPError, endpoint: str,
                    not_found: Optional[str]) -> StoreError:
        try:
            raw = error.read(ERROR_BODY_LIMIT)
        except OSError:
            raw = b""
        finally:
            error.close()
        try:
            answer = json.loads(raw.decode("utf-8"))
        except ValueError:
            answer = None
        if error.code in (401, 403):
            return StoreError(f"The tracking server {self.base_url} refused the credentials "
                              f"(HTTP {error.code}): {CREDENTIALS_HINT}.")
        if isinstance(answer, dict) and ("error_code" in answer or "message" in answer):
            code = str(answer.get("error_code") or "")
            message = " ".join(str(answer.get("message") or "").split())
        elif isinstance(answer, dict) and "detail" in answer:  # FastAPI routes
            code, message = "", " ".join(str(answer["detail"]).split())
        else:
            code, message = "", ""
        # MLflow says "not found" with an error code; a 404 without one (an HTML page, FastAPI's
        # {"detail": "Not Found"}) means the endpoint itself is missing.
        if not_found and (code in NOT_FOUND_CODES
                          or (error.code == 404 and code and code != "ENDPOINT_NOT_FOUND")):
            return ServerError(f"{not_found} not found on {self.description}",
                               error.code, code, message)
        if error.code == 404 and not code:
            return ServerError(
                f"The tracking server {self.base_url} has no endpoint {endpoint.split('?')[0]} "
                "(HTTP 404): is the tracking URI an MLflow 3 tracking server?",
                error.code, code, message)
        detail = f"{code}: {message}" if code and message else (message or code or error.reason)
        kind = ServerUnavailable if error.code in UNAVAILABLE_STATUSES else ServerError
        return kind(f"The tracking server {self.base_url} answered HTTP {error.code} to "
                    f"{endpoint.split('?')[0]}: {detail}", error.code, code, message)

    # ---- TrackingStore ------------------------------------------------------------------

    def get_run(self, run_id: str) -> RunInfo:
        answer = self.get_json(f"{API}/runs/get", params={"run_id": run_id},
                               not_found=f"Run '{run_id}'")
        info = answer.get("run", {}).get("info", {})
        return RunInfo(run_id=info.get("run_id") or info.get("run_uuid") or run_id,
                       experiment_id=str(info.get("experiment_id", "")),
                       artifact_uri=info.get("artifact_uri", ""))

    def find_logged_models(self, experiment_id: str, name: str) -> List[LoggedModelInfo]:
        quote = '"' if "'" in name and '"' not in name else "'"
        body: Dict[str, Any] = {"experiment_ids": [str(experiment_id)],
                                "filter": f"name = {quote}{name}{quote}"}
        models: List[LoggedModelInfo] = []
        while True:
            try:
                answer = self.get_json(f"{API}/logged-models/search", body=body)
            except ServerError as error:
                if error.status == 404 and error.error_code in ("", "ENDPOINT_NOT_FOUND"):
                    return []  # an MLflow 2 server: no logged models, only run artifacts
                raise
            models.extend(_logged_model(entry.get("info", {}))
                          for entry in answer.get("models", []))
            token = answer.get("next_page_token")
            if not token:
                return [model for model in models if model.name == name]
            body["page_token"] = token

    def get_logged_model(self, model_id: str) -> LoggedModelInfo:
        answer = self.get_json(f"{API}/logged-models/{urllib.parse.quote(model_id, safe='')}",
                               not_found=f"Logged model '{model_id}'")
        return _logged_model(answer.get("model", {}).get("info", {}))

    def get_model_version(self, name: str, version: int) -> ModelVersionInfo:
        try:
            answer = self.get_json(f"{API}/model-versions/get",
                                   params={"name": name, "version": str(version)},
                                   not_found=f"Version {version} of registered model '{name}'")
        except ServerError as error:
            if error.status == 404:
                self._check_registered_model(name)
            raise
        return self._version(answer.get("model_version", {}))

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersionInfo:
        try:
            answer = self.get_json(f"{API}/registered-models/alias",
                                   params={"name": name, "alias": alias},
                                   not_found=f"Registered model '{name}'")
        except ServerError as error:
            # MLflow answers a missing alias with 400 "Registered model alias x not found."
            if "alias" in error.server_message.lower() and "not found" in error.server_message:
                raise StoreError(f"Alias '{alias}' of registered model '{name}' not found on "
                                 f"{self.description}") from None
            raise
        return self._version(answer.get("model_version", {}))

    def get_latest_version(self, name: str, stage: Optional[str] = None) -> ModelVersionInfo:
        body: Dict[str, Any] = {"name": name}
        if stage is not None:
            body["stages"] = [stage]
        try:
            answer = self.get_json(f"{API}/registered-models/get-latest-versions", body=body,
                                   not_found=f"Registered model '{name}'")
        except ServerError as error:
            if stage is not None and error.error_code == "INVALID_PARAMETER_VALUE":
                raise StoreError(f"The tracking server {self.base_url} refused stage '{stage}' "
                                 f"of registered model '{name}': {error.server_message}") from None
            raise
        versions = answer.get("model_versions", [])
        if not versions:
            in_stage = f" in stage '{stage}'" if stage is not None else ""
            raise StoreError(f"No versions of registered model '{name}'{in_stage} found on "
                             f"{self.description}")
        return self._version(max(versions, key=lambda entry: int(entry.get("version", 0))))

    # ---- helpers ------------------------------------------------------------------------

    def _check_registered_model(self, name: str) -> None:
        """Raise "Registered model 'x' not found" when the model itself is missing."""
        self.get_json(f"{API}/registered-models/get", params={"name": name},
                      not_found=f"Registered model '{name}'")

    def _version(self, entry: Mapping[str, Any]) -> ModelVersionInfo:
        name, version = entry.get("name", ""), int(entry.get("version", 0))
        # The REST ModelVersion has no storage location: MLflow's client asks get-download-uri,
        # which answers the storage location, else the source.
        answer = self.get_json(f"{API}/model-versions/get-download-uri",
                               params={"name": name, "version": str(version)},
                               not_found=f"Version {version} of registered model '{name}'")
        source = entry.get("source", "")
        return ModelVersionInfo(
            name=name, version=version, source=source,
            storage_location=answer.get("artifact_uri") or None,
            run_id=entry.get("run_id") or None,
            model_id=entry.get("model_id") or _model_id_of_source(source),
            current_stage=entry.get("current_stage") or "None",
        )


def _logged_model(info: Mapping[str, Any]) -> LoggedModelInfo:
    return LoggedModelInfo(model_id=info.get("model_id", ""), name=info.get("name", ""),
                           experiment_id=str(info.get("experiment_id", "")),
                           source_run_id=info.get("source_run_id") or None,
                           artifact_location=info.get("artifact_uri", ""))


def _model_id_of_source(source: str) -> Optional[str]:
    """``models:/m-...`` (a logged model) -> ``m-...``; MLflow 3.17's REST answer omits model_id."""
    if not source.startswith("models:/"):
        return None
    rest = source[len("models:/"):].strip("/")
    if rest and "/" not in rest and "@" not in rest:
        return rest
    return None
