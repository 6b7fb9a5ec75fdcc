"""The real server: `python -m tinyserve serve` in a subprocess, real HTTP on loopback."""
from __future__ import annotations

import json
import os
import signal
import time
import unittest

from tests.support import fixture, request, start_tinyserve

SPLIT = json.dumps({"dataframe_split": {"columns": ["a", "b"],
                                        "data": [[0.0, 1.0], [5.0, 2.0]]}}).encode()
JSON = {"Content-Type": "application/json"}


def children_of(pid: int) -> list:
    with open(f"/proc/{pid}/task/{pid}/children") as handle:
        return [int(p) for p in handle.read().split()]


class SingleWorkerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = start_tinyserve(fixture("sk_skops"))

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()

    def test_json_and_csv_give_the_same_predictions(self) -> None:
        port = self.server.port
        by_json = request(port, "POST", "/invocations", SPLIT, JSON)
        by_csv = request(port, "POST", "/invocations", b"a,b\n0.0,1.0\n5.0,2.0\n",
                         {"Content-Type": "text/csv"})
        self.assertEqual(by_json.body, b'{"predictions": [0, 1]}')
        self.assertEqual(by_csv.body, by_json.body)
        self.assertEqual(by_json.headers["content-type"], "application/json")

    def test_bad_request_gets_an_error_and_the_server_keeps_serving(self) -> None:
        port = self.server.port
        bad = request(port, "POST", "/invocations", b"this is,,,, not valid json", JSON)
        self.assertEqual(bad.status, 400)
        self.assertEqual(bad.json()["error_code"], "BAD_REQUEST")
        self.assertEqual(request(port, "POST", "/invocations", SPLIT, JSON).status, 200)

    def test_keep_alive_connection_serves_several_requests(self) -> None:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            for _ in range(3):
                conn.request("POST", "/invocations", SPLIT, JSON)
                reply = conn.getresponse()
                self.assertEqual(reply.read(), b'{"predictions": [0, 1]}')
        finally:
            conn.close()


class ProcessTest(unittest.TestCase):
    def test_sigterm_stops_the_server_with_status_0(self) -> None:
        server = start_tinyserve(fixture("sk_skops"))
        code, output = server.stop(signal.SIGTERM)
        self.assertEqual(code, 0, output)

    def test_timeout_flag_answers_504_and_ping_stays_up(self) -> None:
        server = start_tinyserve(fixture("pyfunc_params"), "-t", "1")
        try:
            body = json.dumps({"inputs": [1], "params": {"kind": "sleep", "temperature": 3}})
            started = time.monotonic()
            slow = request(server.port, "POST", "/invocations", body.encode(), JSON)
            self.assertEqual(slow.status, 504)
            self.assertLess(time.monotonic() - started, 2.9)
            self.assertEqual(slow.json()["error_code"], "DEADLINE_EXCEEDED")
            self.assertEqual(request(server.port, "GET", "/ping").status, 200)
        finally:
            server.stop()

    def test_timeout_env_var_is_honoured_without_the_flag(self) -> None:
        server = start_tinyserve(fixture("pyfunc_params"),
                                 env={"MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT": "1"})
        try:
            body = json.dumps({"inputs": [1], "params": {"kind": "sleep", "temperature": 3}})
            self.assertEqual(request(server.port, "POST", "/invocations", body.encode(),
                                     JSON).status, 504)
        finally:
            server.stop()

    def test_two_workers_serve_and_a_killed_worker_is_replaced(self) -> None:
        server = start_tinyserve(fixture("sk_skops"), "-w", "2")
        try:
            workers = children_of(server.process.pid)
            self.assertEqual(len(workers), 2)
            os.kill(workers[0], signal.SIGKILL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                now = children_of(server.process.pid)
                if len(now) == 2 and workers[0] not in now:
                    break
                time.sleep(0.1)
            self.assertEqual(len(now), 2)
            self.assertNotIn(workers[0], now)
            for _ in range(4):
                self.assertEqual(request(server.port, "POST", "/invocations", SPLIT,
                                         JSON).status, 200)
        finally:
            code, output = server.stop()
        self.assertEqual(code, 0, output)
        self.assertIn("starting a new one", output)


if __name__ == "__main__":
    unittest.main()
