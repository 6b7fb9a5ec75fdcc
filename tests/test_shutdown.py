"""Graceful shutdown: on SIGTERM the server refuses new connections, answers every request it
already received (up to --graceful-timeout), and exits 0; with workers too."""
from __future__ import annotations

import json
import signal
import threading
import time
import unittest
from typing import Dict

from tests.support import fixture, refused, request, start_tinyserve

SLEEP_2S = json.dumps({"inputs": [1.0], "params": {"kind": "sleep", "temperature": 2.0}}).encode()
JSON = {"Content-Type": "application/json"}


def in_background(port: int, body: bytes, results: Dict[str, object]) -> threading.Thread:
    def send() -> None:
        try:
            answer = request(port, "POST", "/invocations", body, JSON, timeout=30)
            results["answer"] = (answer.status, answer.body)
        except OSError as error:
            results["error"] = error

    thread = threading.Thread(target=send)
    thread.start()
    return thread


class GracefulShutdownTest(unittest.TestCase):
    def test_in_flight_request_is_answered_and_new_connections_refused(self) -> None:
        for flags in ([], ["-w", "2"]):
            with self.subTest(flags=flags):
                server = start_tinyserve(fixture("pyfunc_params"), *flags)
                results: Dict[str, object] = {}
                sender = in_background(server.port, SLEEP_2S, results)
                time.sleep(0.8)  # the request is in the model now
                server.process.send_signal(signal.SIGTERM)
                time.sleep(0.5)
                refused_while_draining = refused(server.port)
                sender.join(30)
                code, log = server.stop()
                self.assertEqual(results.get("answer"), (200, b'{"predictions": "slept"}'),
                                 results)
                self.assertTrue(refused_while_draining)
                self.assertEqual(code, 0, log)

    def test_graceful_timeout_bounds_the_wait(self) -> None:
        server = start_tinyserve(fixture("pyfunc_params"), "--graceful-timeout", "0.5")
        results: Dict[str, object] = {}
        sender = in_background(server.port, json.dumps(
            {"inputs": [1.0], "params": {"kind": "sleep", "temperature": 5.0}}).encode(), results)
        time.sleep(0.8)
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(10)
        waited = time.monotonic() - started
        sender.join(30)
        _, log = server.stop()
        self.assertEqual(code, 0, log)
        self.assertLess(waited, 4.5)  # did not wait for the 5 s prediction
        self.assertIn("Graceful timeout of 0.5 s reached", log)
        self.assertIn("error", results)


if __name__ == "__main__":
    unittest.main()
