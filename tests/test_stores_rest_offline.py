"""The REST store and artifact downloads without an MLflow server: a stdlib stub server for
credentials, odd answers and hostile listings; closed ports; settings; artifact URIs.
"""
from __future__ import annotations

import base64
import http.server
import json
import os
import shutil
import socket
import threading
import unittest
from typing import Dict, List, Tuple

from tests.support import free_port, run_cli
from tests.test_cli import one_line_error
from tinyserve.stores.artifacts import download_artifacts, is_local_uri, local_path
from tinyserve.stores.base import StoreError, StoreUnreachable
from tinyserve.stores.rest import RestStore
from tests.test_stores_rest import TreeAssertions


class StubHandler(http.server.BaseHTTPRequestHandler):
    """Answers from ``server.routes`` (first matching path prefix; ``once`` entries are used up);
    401 to anything else. Records (path, headers, body) of every request in ``server.seen``."""

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append((self.path, dict(self.headers), body))  # type: ignore[attr-defined]
        routes = self.server.routes  # type: ignore[attr-defined]
        for index, (prefix, status, data, once) in enumerate(routes):
            if self.path.startswith(prefix):
                if once:
                    del routes[index]
                break
        else:
            status, data = 401, b'{"error_code": "UNAUTHENTICATED", "message": "login"}'
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


class StubServerCase(unittest.TestCase):
    """A stdlib HTTP server on 127.0.0.1 in a thread: 401 to anything not in ``routes``."""

    def setUp(self) -> None:
        self.stub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StubHandler)
        self.stub.routes: List[Tuple[str, int, bytes, bool]] = []  # type: ignore[misc]
        self.stub.seen: List[Tuple[str, Dict[str, str], bytes]] = []  # type: ignore[misc]
        self.url = f"http://127.0.0.1:{self.stub.server_address[1]}"
        thread = threading.Thread(target=self.stub.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        self.addCleanup(thread.join, 10)
        self.addCleanup(self.stub.server_close)
        self.addCleanup(self.stub.shutdown)

    def route(self, prefix: str, status: int, body: object, once: bool = False) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.stub.routes.append((prefix, status, data, once))


class CommandLineCredentialsTest(StubServerCase):
    """The whole command: wrong credentials end ``tinyserve predict`` with one line, exit 1."""

    def test_refused_token_is_one_line(self) -> None:
        result = run_cli("predict", "-m", "models:/churn@champion", "-t", "csv",
                         input_bytes=b"x\n1\n",
                         env={"MLFLOW_TRACKING_URI": self.url, "MLFLOW_TRACKING_TOKEN": "wrong"})
        one_line_error(self, result, 1, f"The tracking server {self.url} refused the "
                       "credentials (HTTP 401)", "MLFLOW_TRACKING_TOKEN")
        self.assertEqual(self.stub.seen[0][1].get("Authorization"), "Bearer wrong")


class CredentialsAndStubTests(StubServerCase, TreeAssertions):
    def test_refused_credentials_name_the_variables(self) -> None:
        store = RestStore(self.url, token="wrong")
        expected = (f"The tracking server {self.url} refused the credentials (HTTP 401): set "
                    "MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD.")
        lookups = [lambda: store.get_run("r"), lambda: store.get_model_version("m", 1),
                   lambda: store.find_logged_models("1", "model"),
                   lambda: download_artifacts("mlflow-artifacts:/1/m", self.tempdir(), store)]
        for lookup in lookups:
            with self.subTest(lookup=lookup):
                with self.assertRaises(StoreError) as caught:
                    lookup()
                self.assertEqual(str(caught.exception), expected)
                self.assertNotIsInstance(caught.exception, StoreUnreachable)

    def test_forbidden_is_reported_like_refused(self) -> None:
        self.route("/api/2.0/mlflow/runs/get", 403, {"error_code": "PERMISSION_DENIED"})
        with self.assertRaises(StoreError) as caught:
            RestStore(self.url).get_run("r")
        self.assertIn("refused the credentials (HTTP 403)", str(caught.exception))

    def test_authorization_header_follows_mlflows_rules(self) -> None:
        self.route("/api/2.0/mlflow/runs/get", 200, {"run": {"info": {"run_id": "r"}}})
        basic = "Basic " + base64.standard_b64encode(b"ann:secret").decode()
        cases = [({"MLFLOW_TRACKING_TOKEN": "tok"}, "Bearer tok"),
                 ({"MLFLOW_TRACKING_USERNAME": "ann", "MLFLOW_TRACKING_PASSWORD": "secret"}, basic),
                 ({"MLFLOW_TRACKING_TOKEN": "tok", "MLFLOW_TRACKING_USERNAME": "ann",
                   "MLFLOW_TRACKING_PASSWORD": "secret"}, basic),  # MLflow's http_request order
                 ({}, None)]
        for environ, header in cases:
            with self.subTest(environ=sorted(environ)):
                RestStore.from_env(self.url, environ).get_run("r")
                self.assertEqual(self.stub.seen[-1][1].get("Authorization"), header)
        RestStore(self.url.replace("://", "://ann:secret@")).get_run("r")
        self.assertEqual(self.stub.seen[-1][1].get("Authorization"), basic)

    def test_listing_that_leaves_the_destination_is_refused(self) -> None:
        outside = self.tempdir()
        for name in ("../escaped", "/etc/escaped", "a/../../escaped", "..", "sub\\..\\x", ""):
            with self.subTest(name=name):
                self.stub.routes.clear()
                self.route("/api/2.0/mlflow-artifacts/artifacts?", 200,
                           {"files": [{"path": name, "is_dir": False, "file_size": 1}]})
                self.route("/api/2.0/mlflow-artifacts/artifacts/", 200, b"x")
                destination = os.path.join(outside, "dest")
                os.mkdir(destination)
                with self.assertRaises(StoreError) as caught:
                    download_artifacts("mlflow-artifacts:/1/model", destination,
                                       RestStore(self.url))
                self.assertIn("unsafe artifact path", str(caught.exception))
                self.assertEqual(sorted(os.listdir(outside)), ["dest"])
                shutil.rmtree(destination)

    def test_short_download_is_an_error(self) -> None:
        self.route("/api/2.0/mlflow-artifacts/artifacts?", 200,
                   {"files": [{"path": "MLmodel", "is_dir": False, "file_size": 10}]})
        self.route("/api/2.0/mlflow-artifacts/artifacts/", 200, b"12345")
        with self.assertRaises(StoreError) as caught:
            download_artifacts("mlflow-artifacts:/1/model", self.tempdir(), RestStore(self.url))
        self.assertIn("stopped after 5 of 10 bytes", str(caught.exception))

    def test_404_without_an_mlflow_error_code_means_a_missing_endpoint(self) -> None:
        missing_endpoint = (f"The tracking server {self.url} has no endpoint "
                            "/api/2.0/mlflow/runs/get (HTTP 404): is the tracking URI an MLflow "
                            "3 tracking server?")
        cases = [(b"<html>Not Found</html>", missing_endpoint),
                 ({"detail": "Not Found"}, missing_endpoint),
                 ({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run with id=r not found"},
                  f"Run 'r' not found on the tracking server {self.url}")]
        for body, expected in cases:
            with self.subTest(body=body):
                self.stub.routes.clear()
                self.route("/api/2.0/mlflow/runs/get", 404, body)
                with self.assertRaises(StoreError) as caught:
                    RestStore(self.url).get_run("r")
                self.assertEqual(str(caught.exception), expected)

    def test_other_errors_quote_the_servers_code_and_message(self) -> None:
        self.route("/api/2.0/mlflow/runs/get", 400,
                   {"error_code": "INVALID_PARAMETER_VALUE", "message": "bad\nrun id"})
        with self.assertRaises(StoreError) as caught:
            RestStore(self.url).get_run("r")
        self.assertEqual(str(caught.exception), (
            f"The tracking server {self.url} answered HTTP 400 to /api/2.0/mlflow/runs/get: "
            "INVALID_PARAMETER_VALUE: bad run id"))

    def test_a_transient_503_is_retried(self) -> None:
        self.route("/api/2.0/mlflow/runs/get", 503, b"busy", once=True)
        self.route("/api/2.0/mlflow/runs/get", 200, {"run": {"info": {"run_id": "r"}}})
        self.assertEqual(RestStore(self.url).get_run("r").run_id, "r")
        self.assertEqual(len(self.stub.seen), 2)

    def test_logged_model_search_follows_page_tokens(self) -> None:
        def page(model_id: str, token: str) -> dict:
            info = {"model_id": model_id, "name": "model", "experiment_id": "1",
                    "artifact_uri": f"mlflow-artifacts:/1/models/{model_id}/artifacts"}
            return {"models": [{"info": info}], "next_page_token": token}
        self.route("/api/2.0/mlflow/logged-models/search", 200, page("m-1", "next"), once=True)
        self.route("/api/2.0/mlflow/logged-models/search", 200, page("m-2", ""), once=True)
        found = RestStore(self.url).find_logged_models("1", "model")
        self.assertEqual([model.model_id for model in found], ["m-1", "m-2"])
        bodies = [json.loads(body) for _, _, body in self.stub.seen]
        self.assertEqual(bodies[0], {"experiment_ids": ["1"], "filter": "name = 'model'"})
        self.assertEqual(bodies[1].get("page_token"), "next")

    def test_server_without_logged_models_has_none_to_find(self) -> None:
        self.route("/api/2.0/mlflow/logged-models/search", 404, b"<html>Not Found</html>")
        self.assertEqual(RestStore(self.url).find_logged_models("1", "model"), [])

    def test_https_to_a_plain_http_server_names_the_tls_variable(self) -> None:
        with self.assertRaises(StoreError) as caught:
            RestStore(self.url.replace("http://", "https://"), timeout=10).get_run("r")
        self.assertIsInstance(caught.exception, StoreUnreachable)
        self.assertIn("TLS connection to the tracking server", str(caught.exception))
        self.assertIn("MLFLOW_TRACKING_INSECURE_TLS", str(caught.exception))


class UnreachableAndSettingsTests(unittest.TestCase):
    def test_closed_port_fails_with_one_line(self) -> None:
        url = f"http://127.0.0.1:{free_port()}"
        with self.assertRaises(StoreError) as caught:
            RestStore(url, timeout=5).get_run("r")
        self.assertIsInstance(caught.exception, StoreUnreachable)
        self.assertRegex(str(caught.exception),
                         rf"^Cannot reach the tracking server {url}: \S.*[^\n]$")

    def test_server_that_never_answers_times_out_with_one_line(self) -> None:
        with socket.socket() as silent:  # accepts connections (backlog) and never answers
            silent.bind(("127.0.0.1", 0))
            silent.listen(1)
            url = f"http://127.0.0.1:{silent.getsockname()[1]}"
            with self.assertRaises(StoreError) as caught:
                RestStore(url, timeout=0.5).get_run("r")
        self.assertIsInstance(caught.exception, StoreUnreachable)
        self.assertEqual(str(caught.exception), (
            f"Cannot reach the tracking server {url}: no answer within 0.5 s "
            "(MLFLOW_HTTP_REQUEST_TIMEOUT sets the limit)."))

    def test_bad_settings_are_one_line_errors(self) -> None:
        cases = [({"MLFLOW_TRACKING_INSECURE_TLS": "maybe"}, "MLFLOW_TRACKING_INSECURE_TLS"),
                 ({"MLFLOW_HTTP_REQUEST_TIMEOUT": "soon"}, "MLFLOW_HTTP_REQUEST_TIMEOUT"),
                 ({"MLFLOW_TRACKING_INSECURE_TLS": "true",
                   "MLFLOW_TRACKING_SERVER_CERT_PATH": "ca.pem"}, "only one")]
        for environ, expected in cases:
            with self.subTest(environ=environ):
                with self.assertRaises(StoreError) as caught:
                    RestStore.from_env("https://127.0.0.1:1", environ)
                self.assertIn(expected, str(caught.exception))

    def test_settings_read_from_the_environment(self) -> None:
        store = RestStore.from_env("https://127.0.0.1:1/prefix/", {
            "MLFLOW_TRACKING_INSECURE_TLS": "TRUE", "MLFLOW_HTTP_REQUEST_TIMEOUT": "7"})
        self.assertEqual((store.base_url, store.insecure_tls, store.timeout),
                         ("https://127.0.0.1:1/prefix", True, 7.0))
        self.assertEqual(RestStore.from_env("http://127.0.0.1:1", {}).timeout, 120.0)


class ArtifactUriTests(TreeAssertions):
    def test_cloud_storage_gets_the_one_line_explanation(self) -> None:
        uri = "s3://bucket/1/models/m-1/artifacts"
        with self.assertRaises(StoreError) as caught:
            download_artifacts(uri, self.tempdir())
        self.assertEqual(str(caught.exception), (
            f"The model's files are in s3 storage ({uri}), which needs a vendor SDK tinyserve "
            "does not use: serve the model through an MLflow tracking server with proxied "
            "artifacts (mlflow server --serve-artifacts), or download the model directory first "
            "and pass its path."))
        for other in ("gs://b/m", "wasbs://c@a.blob.core.windows.net/m", "abfss://c@a/m",
                      "dbfs:/m", "hdfs://nn/m", "sftp://h/m", "runs:/abc/model", "models:/m/1"):
            with self.subTest(other):
                with self.assertRaises(StoreError) as caught:
                    download_artifacts(other, self.tempdir())
                self.assertIn("needs a vendor SDK", str(caught.exception))

    def test_mlflow_artifacts_without_a_tracking_server_says_what_to_set(self) -> None:
        with self.assertRaises(StoreError) as caught:
            download_artifacts("mlflow-artifacts:/1/m", self.tempdir())
        self.assertIn("MLFLOW_TRACKING_URI", str(caught.exception))

    def test_local_uris_and_their_paths(self) -> None:
        cases = [("/srv/models/m", "/srv/models/m"), ("relative/m", "relative/m"),
                 ("file:///srv/models/m", "/srv/models/m"), ("file:/srv/models/m", "/srv/models/m"),
                 ("file://localhost/srv/m", "/srv/m"), ("file:///srv/my%20model", "/srv/my model")]
        for uri, path in cases:
            with self.subTest(uri):
                self.assertTrue(is_local_uri(uri))
                self.assertEqual(local_path(uri), path)
        for uri in ("mlflow-artifacts:/1/m", "http://h/m", "s3://b/m"):
            with self.subTest(uri):
                self.assertFalse(is_local_uri(uri))

    def test_local_directory_is_copied_and_a_missing_one_named(self) -> None:
        source = self.tempdir()
        os.makedirs(os.path.join(source, "my model", "sub"))
        for name in ("MLmodel", os.path.join("sub", "weights.bin")):
            with open(os.path.join(source, "my model", name), "wb") as handle:
                handle.write(name.encode() * 100)
        destination = self.tempdir()
        download_artifacts("file://" + source.replace(" ", "%20") + "/my%20model", destination)
        self.assertSameTree(os.path.join(source, "my model"), destination)
        with self.assertRaises(StoreError) as caught:
            download_artifacts(os.path.join(source, "absent"), self.tempdir())
        self.assertIn("does not exist", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
