"""tinyserve as a plain WSGI app inside other hosts: wsgiref's server and gunicorn."""
from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import threading
import unittest
from wsgiref.simple_server import WSGIRequestHandler, make_server

import tinyserve
from tests.support import ServerProcess, fixture, free_port, request

SPLIT = json.dumps({"dataframe_split": {"columns": ["a", "b"],
                                        "data": [[0.0, 1.0], [5.0, 2.0]]}}).encode()
JSON = {"Content-Type": "application/json"}


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


class WsgirefHostTest(unittest.TestCase):
    def test_wsgi_app_serves_under_wsgiref(self) -> None:
        app = tinyserve.wsgi_app(fixture("sk_pickle"))
        server = make_server("127.0.0.1", 0, app, handler_class=QuietHandler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            port = server.server_address[1]
            reply = request(port, "POST", "/invocations", SPLIT, JSON)
            self.assertEqual((reply.status, reply.body), (200, b'{"predictions": [0, 1]}'))
            self.assertEqual(request(port, "GET", "/ping").body, b"\n")
            self.assertEqual(request(port, "GET", "/nope").status, 404)
        finally:
            server.shutdown()
            server.server_close()
            thread.join(5)

    def test_load_model_predicts_in_process(self) -> None:
        import pandas as pd

        model = tinyserve.load_model(fixture("sk_pickle"))
        frame = pd.DataFrame({"a": [0.0, 5.0], "b": [1.0, 2.0]})
        self.assertEqual(list(model.predict(frame)), [0, 1])


@unittest.skipIf(shutil.which("gunicorn") is None and importlib.util.find_spec("gunicorn") is None,
                 "gunicorn is not installed (it is in the 'test' extra)")
class GunicornHostTest(unittest.TestCase):
    def test_module_level_application_reads_the_model_from_the_environment(self) -> None:
        port = free_port()
        server = ServerProcess(
            ["-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1", "tinyserve.wsgi:application"],
            port, env={"TINYSERVE_MODEL_URI": fixture("sk_pickle")}, python=sys.executable,
        )
        try:
            server.wait_ready()
            reply = request(port, "POST", "/invocations", SPLIT, JSON)
            self.assertEqual((reply.status, reply.body), (200, b'{"predictions": [0, 1]}'))
        finally:
            code, output = server.stop()
        self.assertIn("Booting worker", output)


if __name__ == "__main__":
    unittest.main()
