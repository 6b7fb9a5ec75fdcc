"""The WSGI layer in-process, through wsgiref.validate: routing, limits, timeout, boundary."""
from __future__ import annotations

import io
import json
import threading
import time
import unittest
from typing import Dict, Optional, Tuple
from wsgiref.validate import validator

from tinyserve import __version__
from tinyserve.scoring import Reply
from tinyserve.wsgi import ScoringApp


class EchoScorer:
    """Answers with what it was given, so the tests see exactly what the app passed on."""

    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.delay = delay
        self.fail = fail

    def score(self, body: bytes, content_type: Optional[str]) -> Reply:
        if self.delay:
            time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("a bug inside the pipeline")
        echo = {"body": body.decode("latin-1"), "content_type": content_type}
        return Reply(200, "application/json", json.dumps(echo).encode())


def call(app, method: str, path: str, body: bytes = b"", headers: Optional[Dict[str, str]] = None,
         query: str = "", validate: bool = True,
         raw_uri: Optional[str] = None) -> Tuple[int, Dict[str, str], bytes]:
    environ = {
        "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "5000", "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(), "wsgi.multithread": True, "wsgi.multiprocess": False,
        "wsgi.run_once": False, "HTTP_HOST": "127.0.0.1:5000",
    }
    if raw_uri is not None:
        environ["REQUEST_URI"] = raw_uri  # waitress keeps the raw request target here
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    for name, value in (headers or {}).items():
        if name.lower() == "content-type":
            environ["CONTENT_TYPE"] = value
        else:
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    captured = {}

    def start_response(status, response_headers, exc_info=None):
        captured["status"] = int(status.split()[0])
        captured["headers"] = {k.lower(): v for k, v in response_headers}

    result = (validator(app) if validate else app)(environ, start_response)
    try:
        data = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return captured["status"], captured["headers"], data


class RoutingTest(unittest.TestCase):
    def setUp(self) -> None:
        self.app = ScoringApp(EchoScorer())

    def test_ping_and_health_answer_a_single_newline_as_json(self) -> None:
        for path in ("/ping", "/health"):
            with self.subTest(path=path):
                status, headers, body = call(self.app, "GET", path)
                self.assertEqual((status, body), (200, b"\n"))
                self.assertEqual(headers["content-type"], "application/json")
                self.assertEqual(headers["content-length"], "1")

    def test_version_is_tinyserves_bare_version_text(self) -> None:
        status, _, body = call(self.app, "GET", "/version")
        self.assertEqual((status, body), (200, __version__.encode()))

    def test_head_works_wherever_get_does_with_no_body(self) -> None:
        for path in ("/ping", "/health", "/version"):
            with self.subTest(path=path):
                status, headers, body = call(self.app, "HEAD", path)
                self.assertEqual((status, body), (200, b""))
                self.assertNotEqual(headers["content-length"], "0")

    def test_unknown_paths_are_404_with_fastapis_body(self) -> None:
        for method, path in (("GET", "/"), ("GET", "/nope"), ("POST", "/foo"), ("DELETE", "/x")):
            with self.subTest(method=method, path=path):
                status, headers, body = call(self.app, method, path)
                self.assertEqual((status, body), (404, b'{"detail":"Not Found"}'))
                self.assertEqual(headers["content-type"], "application/json")

    def test_wrong_methods_are_405_with_allow(self) -> None:
        cases = [("GET", "/invocations", "POST"), ("PUT", "/invocations", "POST"),
                 ("POST", "/ping", "GET, HEAD"), ("OPTIONS", "/version", "GET, HEAD"),
                 ("HEAD", "/invocations", "POST")]
        for method, path, allow in cases:
            with self.subTest(method=method, path=path):
                status, headers, body = call(self.app, method, path)
                self.assertEqual(status, 405)
                self.assertEqual(headers["allow"], allow)
                expected = b"" if method == "HEAD" else b'{"detail":"Method Not Allowed"}'
                self.assertEqual(body, expected)

    def test_trailing_slash_redirects_307_to_the_route(self) -> None:
        # wsgiref.validate insists on a Content-Type, which MLflow's 307 does not have
        status, headers, body = call(self.app, "GET", "/ping/", validate=False)
        self.assertEqual((status, body), (307, b""))
        self.assertEqual(headers["location"], "http://127.0.0.1:5000/ping")
        self.assertNotIn("content-type", headers)

    def test_repeated_slashes_are_not_collapsed_into_a_route(self) -> None:
        status, _, body = call(self.app, "GET", "/ping", raw_uri="//ping")
        self.assertEqual((status, body), (404, b'{"detail":"Not Found"}'))
        self.assertEqual(call(self.app, "GET", "/ping", raw_uri="/ping?x=1")[0], 200)

    def test_query_string_on_invocations_is_ignored(self) -> None:
        status, _, body = call(self.app, "POST", "/invocations", b"{}",
                               {"Content-Type": "application/json"}, query="x=1")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"body": "{}", "content_type": "application/json"})

    def test_missing_content_type_reaches_the_scorer_as_none(self) -> None:
        _, _, body = call(self.app, "POST", "/invocations", b"a")
        self.assertIsNone(json.loads(body)["content_type"])


class LimitsTest(unittest.TestCase):
    def test_body_over_the_limit_is_413_before_scoring(self) -> None:
        app = ScoringApp(EchoScorer(fail=True), max_body_size=10)
        status, headers, body = call(app, "POST", "/invocations", b"x" * 11,
                                     {"Content-Type": "application/json"})
        self.assertEqual(status, 413)
        self.assertEqual(json.loads(body)["error_code"], "REQUEST_LIMIT_EXCEEDED")
        self.assertIn("10 bytes", json.loads(body)["message"])

    def test_body_at_the_limit_is_scored(self) -> None:
        app = ScoringApp(EchoScorer(), max_body_size=10)
        status, _, _ = call(app, "POST", "/invocations", b"x" * 10)
        self.assertEqual(status, 200)

    def test_slow_prediction_gets_504_json_and_the_app_keeps_serving(self) -> None:
        app = ScoringApp(EchoScorer(delay=1.0), timeout=0.2)
        status, headers, body = call(app, "POST", "/invocations", b"{}")
        self.assertEqual(status, 504)
        self.assertEqual(headers["content-type"], "application/json")
        self.assertEqual(json.loads(body), {"error_code": "DEADLINE_EXCEEDED",
                                            "message": "Request processing time exceeded limit"})
        self.assertEqual(call(app, "GET", "/ping")[0], 200)

    def test_bug_in_the_pipeline_is_a_json_500_and_never_a_traceback(self) -> None:
        for timeout in (None, 5.0):
            with self.subTest(timeout=timeout):
                app = ScoringApp(EchoScorer(fail=True), timeout=timeout)
                with self.assertLogs("tinyserve", "ERROR"):
                    status, headers, body = call(app, "POST", "/invocations", b"{}")
                self.assertEqual(status, 500)
                self.assertEqual(json.loads(body)["error_code"], "INTERNAL_ERROR")
                self.assertNotIn(b"Traceback", body)

    def test_concurrent_requests_are_answered_independently(self) -> None:
        app = ScoringApp(EchoScorer(delay=0.05))
        results = []

        def one(i: int) -> None:
            results.append(call(app, "POST", "/invocations", str(i).encode())[2])

        threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        self.assertEqual(sorted(json.loads(r)["body"] for r in results),
                         sorted(str(i) for i in range(8)))


if __name__ == "__main__":
    unittest.main()
