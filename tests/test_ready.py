"""``/live`` and ``/ready``: ready once a prediction on the model's own input example worked."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import unittest

from tests.support import EXAMPLE_MODEL, fixture, request, start_tinyserve


class ReadyTest(unittest.TestCase):
    def test_live_and_ready_after_the_example_predicts(self) -> None:
        for model in (EXAMPLE_MODEL, fixture("sk_skops"), fixture("sk_nosig")):  # last: no example
            with self.subTest(model=os.path.basename(model)):
                server = start_tinyserve(model)
                try:
                    answers = [request(server.port, method, path)
                               for path in ("/live", "/ready") for method in ("GET", "HEAD")]
                finally:
                    server.stop()
                self.assertEqual([a.status for a in answers], [200] * 4)

    def test_a_failing_example_keeps_ready_at_503_and_the_server_serving(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            model = os.path.join(tmp, "model")
            shutil.copytree(fixture("sk_skops"), model)
            with open(os.path.join(model, "serving_input_example.json"), "w") as handle:
                json.dump({"dataframe_split": {"columns": ["a"], "data": [[1.0]]}}, handle)
            server = start_tinyserve(model)
            try:
                ready = request(server.port, "GET", "/ready")
                ping = request(server.port, "GET", "/ping")
                live = request(server.port, "GET", "/live")
            finally:
                _, log = server.stop()
        self.assertEqual((ping.status, live.status, ready.status), (200, 200, 503))
        self.assertEqual(ready.json()["error_code"], "TEMPORARILY_UNAVAILABLE")
        self.assertIn("serving_input_example.json", ready.json()["message"])
        self.assertIn("Model is missing inputs ['b']", ready.json()["message"])
        self.assertIn("Not ready (/ready answers 503)", log)


if __name__ == "__main__":
    unittest.main()
