"""Request limits on a real server: in-flight requests per worker (503 + Retry-After) and the
size of the request head (431)."""
from __future__ import annotations

import json
import re
import socket
import threading
import time
import unittest
from typing import List

from tests.support import fixture, request, run_cli, start_tinyserve

JSON = {"Content-Type": "application/json"}
ECHO = json.dumps({"inputs": [1]}).encode()


def sleep_body(seconds: float) -> bytes:
    return json.dumps({"inputs": [1], "params": {"kind": "sleep", "temperature": seconds}}).encode()


def wait_for_in_flight(port: int, count: int, within: float = 10.0) -> bool:
    """Wait until ``count`` requests besides the asking one are in flight (per /metrics)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        page = request(port, "GET", "/metrics").body.decode()
        gauge = re.search(r"^tinyserve_requests_in_flight (\S+)$", page, re.M)
        if gauge and float(gauge.group(1)) - 1 >= count:
            return True
        time.sleep(0.05)
    return False


class InFlightLimitTest(unittest.TestCase):
    def test_requests_past_the_limit_get_503_and_health_checks_still_answer(self) -> None:
        server = start_tinyserve(fixture("pyfunc_params"), "--max-in-flight", "2",
                                 "--threads", "2")
        try:
            statuses: List[int] = []

            def slow() -> None:  # retried when shed: a probe may hold a slot as it arrives
                deadline = time.monotonic() + 10
                reply = request(server.port, "POST", "/invocations", sleep_body(4), JSON)
                while reply.status == 503 and time.monotonic() < deadline:
                    reply = request(server.port, "POST", "/invocations", sleep_body(4), JSON)
                statuses.append(reply.status)

            sleepers = [threading.Thread(target=slow) for _ in range(2)]
            for sleeper in sleepers:
                sleeper.start()
            self.assertTrue(wait_for_in_flight(server.port, 2), "the sleepers never ran")
            shed = request(server.port, "POST", "/invocations", ECHO, JSON)
            self.assertEqual(shed.status, 503)
            self.assertIsNotNone(shed, "no request was shed while two were in flight")
            self.assertEqual(shed.json()["error_code"], "TEMPORARILY_UNAVAILABLE")
            self.assertIn("--max-in-flight", shed.json()["message"])
            self.assertEqual(shed.headers["retry-after"], "1")
            self.assertIn("x-request-id", shed.headers)
            for path in ("/ping", "/health", "/live", "/ready", "/version"):
                with self.subTest(path=path):
                    self.assertEqual(request(server.port, "GET", path).status, 200)
            for sleeper in sleepers:
                sleeper.join(30)
            self.assertEqual(statuses, [200, 200])
            reply = request(server.port, "POST", "/invocations", ECHO, JSON)
            self.assertEqual(reply.status, 200)
            self.assertEqual(reply.json()["predictions"]["input"]["values"], "[1]")
        finally:
            code, output = server.stop()
        self.assertEqual(code, 0, output)
        self.assertIn("POST /invocations 503", output)


class OverrunTest(unittest.TestCase):
    def test_predictions_running_past_their_504_count_toward_the_limit(self) -> None:
        server = start_tinyserve(fixture("pyfunc_params"), "--max-in-flight", "2", "-t", "1")
        try:
            for _ in range(2):  # each gets its 504 after 1 s; its thread sleeps on to 4 s
                reply = request(server.port, "POST", "/invocations", sleep_body(4), JSON)
                self.assertEqual(reply.status, 504)
            reply = request(server.port, "POST", "/invocations", ECHO, JSON)
            self.assertEqual(reply.status, 503)
            self.assertEqual(request(server.port, "GET", "/ping").status, 200)
            deadline = time.monotonic() + 10
            while reply.status == 503 and time.monotonic() < deadline:
                time.sleep(0.2)
                reply = request(server.port, "POST", "/invocations", ECHO, JSON)
            self.assertEqual(reply.status, 200)  # the abandoned predictions ended
        finally:
            server.stop()


def raw_exchange(port: int, head: bytes, timeout: float = 10.0) -> bytes:
    """Send ``head`` (and nothing more) on a fresh connection; everything the server answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


class RefusedRequestTest(unittest.TestCase):
    """Limits waitress enforces while reading, answered with JSON like the app's errors."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = start_tinyserve(fixture("pyfunc_params"), "--max-header-size", "2048",
                                     "--max-body-size", "1000")

    @classmethod
    def tearDownClass(cls) -> None:
        code, cls.output = cls.server.stop()

    def test_a_request_head_over_the_limit_gets_431_and_the_server_keeps_serving(self) -> None:
        big = request(self.server.port, "POST", "/invocations", ECHO,
                      {**JSON, "X-Padding": "a" * 4096})
        self.assertEqual(big.status, 431)
        self.assertEqual(big.json(), {
            "error_code": "REQUEST_LIMIT_EXCEEDED",
            "message": "Request line and headers are larger than the limit of 2048 bytes "
                       "(see --max-header-size)."})
        self.assertIn("x-request-id", big.headers)
        small = request(self.server.port, "POST", "/invocations", ECHO,
                        {**JSON, "X-Padding": "a" * 512})
        self.assertEqual(small.status, 200)

    def test_a_declared_body_over_the_limit_gets_413_before_it_is_sent(self) -> None:
        answer = raw_exchange(self.server.port, b"POST /invocations HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Type: application/json\r\n"
                              b"Content-Length: 10000000000\r\n\r\n")
        head, _, body = answer.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 413 "), head)
        self.assertEqual(json.loads(body), {
            "error_code": "REQUEST_LIMIT_EXCEEDED",
            "message": "Request body is larger than the limit of 1000 bytes "
                       "(see --max-body-size)."})

    def test_the_body_limit_is_inclusive_for_sized_and_chunked_bodies(self) -> None:
        padded = b'{"inputs": [1]' + b" " * (1000 - len(ECHO)) + b"}"
        self.assertEqual(len(padded), 1000)
        at_limit = request(self.server.port, "POST", "/invocations", padded, JSON)
        self.assertEqual(at_limit.status, 200)
        over = request(self.server.port, "POST", "/invocations", padded + b" ", JSON)
        self.assertEqual((over.status, over.json()["error_code"]),
                         (413, "REQUEST_LIMIT_EXCEEDED"))
        chunk = b" " * 800
        chunked = raw_exchange(self.server.port, b"POST /invocations HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Type: application/json\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\n"
                               + (b"320\r\n" + chunk + b"\r\n") * 2 + b"0\r\n\r\n")
        self.assertTrue(chunked.startswith(b"HTTP/1.1 413 "), chunked[:200])

    def test_malformed_http_gets_a_json_400(self) -> None:
        answer = raw_exchange(self.server.port, b"POST /invocations HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Length: twelve\r\n\r\n")
        head, _, body = answer.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 400 "), head)
        self.assertEqual(json.loads(body)["error_code"], "BAD_REQUEST")
        self.assertIn(b"x-request-id: ", head.lower())
        self.assertEqual(request(self.server.port, "GET", "/ping").status, 200)


class LimitFlagsTest(unittest.TestCase):
    def test_limits_below_one_or_unreadable_are_usage_errors(self) -> None:
        cases = [
            (["--max-in-flight", "0"], {}, "--max-in-flight must be at least 1, got 0."),
            (["--max-header-size", "-5"], {}, "--max-header-size must be at least 1, got -5."),
            ([], {"TINYSERVE_MAX_IN_FLIGHT": "many"},
             "TINYSERVE_MAX_IN_FLIGHT='many' is not a valid value for --max-in-flight."),
            ([], {"MLFLOW_MODELS_WORKERS": "0"}, "--workers must be at least 1, got 0."),
        ]
        for flags, env, message in cases:
            with self.subTest(flags=flags, env=env):
                done = run_cli("serve", "-m", fixture("pyfunc_params"), "-p", "1", *flags,
                               env=env)
                self.assertEqual(done.returncode, 2, done.stderr)
                self.assertEqual(done.stderr.decode().strip(), f"tinyserve: error: {message}")


if __name__ == "__main__":
    unittest.main()
