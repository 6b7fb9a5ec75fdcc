"""Access-log lines and request ids, from a real server: text and JSON log formats."""
from __future__ import annotations

import json
import re
import unittest

from tests.support import EXAMPLE_MODEL, request, start_tinyserve
from tinyserve.access_log import request_id

IRIS = json.dumps({"dataframe_split": {
    "columns": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
    "data": [[5.1, 3.5, 1.4, 0.2]]}}).encode()
JSON_HEADERS = {"Content-Type": "application/json"}


class RequestIdTest(unittest.TestCase):
    def test_plausible_ids_are_kept_others_replaced(self) -> None:
        for given, kept in [("abc-123", True), ("req_1.2:3@x/y+z=", True), ("a" * 128, True),
                            ("a" * 129, False), ("two words", False), ("x\nforged line", False),
                            ("", False)]:
            with self.subTest(given=given):
                got = request_id({"HTTP_X_REQUEST_ID": given})
                if kept:
                    self.assertEqual(got, given)
                else:
                    self.assertRegex(got, r"^[0-9a-f]{32}$")


class AccessLogTest(unittest.TestCase):
    def test_text_lines_and_echoed_request_ids(self) -> None:
        server = start_tinyserve(EXAMPLE_MODEL)
        try:
            given = request(server.port, "POST", "/invocations", IRIS,
                            dict(JSON_HEADERS, **{"X-Request-ID": "client-42"}))
            made = request(server.port, "GET", "/nowhere")
            forged = request(server.port, "GET", "/ping", headers={"X-Request-ID": "a b"})
        finally:
            _, log = server.stop()
        self.assertEqual((given.status, given.headers.get("x-request-id")), (200, "client-42"))
        self.assertEqual(made.status, 404)
        generated = made.headers.get("x-request-id", "")
        self.assertRegex(generated, r"^[0-9a-f]{32}$")
        self.assertNotEqual(forged.headers.get("x-request-id"), "a b")
        self.assertRegex(log, r"POST /invocations 200 %d [0-9.]+ms request_id=client-42"
                         % len(given.body))
        self.assertRegex(log, rf"GET /nowhere 404 \d+ [0-9.]+ms request_id={generated}")
        self.assertNotIn("request_id=a b", log)

    def test_json_log_format_is_one_object_per_line(self) -> None:
        server = start_tinyserve(EXAMPLE_MODEL, "--log-format", "json")
        try:
            answer = request(server.port, "POST", "/invocations", b"{not json",
                             dict(JSON_HEADERS, **{"X-Request-ID": "bad-body-1"}))
        finally:
            _, log = server.stop()
        self.assertEqual(answer.status, 400)
        records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        self.assertTrue(records)
        non_json = [line for line in log.splitlines() if line.strip() and not line.startswith("{")]
        self.assertEqual(non_json, [])
        access = [r for r in records if r["logger"] == "tinyserve.access"]
        mine = [r for r in access if r["request_id"] == "bad-body-1"]
        self.assertEqual(len(mine), 1)
        self.assertEqual({k: mine[0][k] for k in ("method", "path", "status", "bytes")},
                         {"method": "POST", "path": "/invocations", "status": 400,
                          "bytes": len(answer.body)})
        self.assertIsInstance(mine[0]["duration_ms"], float)
        self.assertTrue(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$", mine[0]["time"]))


if __name__ == "__main__":
    unittest.main()
