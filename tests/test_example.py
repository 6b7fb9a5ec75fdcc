"""The example model of the README: it loads with the runtime dependencies alone and answers
exactly what the README shows."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import unittest

from tests.support import EXAMPLE_MODEL, REPO, child_env, request, start_tinyserve

README_REQUEST = {"dataframe_split": {
    "columns": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
    "data": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}}
README_ANSWER = '{"predictions": ["setosa", "virginica"]}'

# Refuses every import outside the standard library and the four runtime dependencies.
ONLY_RUNTIME_DEPS = """
import sys
ALLOWED = {"numpy", "pandas", "cloudpickle", "waitress", "tinyserve", "dateutil", "pytz",
           "tzdata", "six"}
class Refuse:
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in ALLOWED or top in sys.stdlib_module_names or top.startswith("_"):
            return None
        raise ImportError(f"blocked in this test: {name}")
sys.meta_path.insert(0, Refuse())
import tinyserve, pandas
model = tinyserve.load_model(sys.argv[1])
frame = pandas.DataFrame([[5.1, 3.5, 1.4, 0.2]], columns=["sepal_length", "sepal_width",
                                                         "petal_length", "petal_width"])
print([str(label) for label in model.predict(frame)])
print(sorted({m.split(".")[0] for m in sys.modules} & {"sklearn", "skops", "pyarrow"}))
print("tinyserve" in sys.modules["mlflow"].__file__)  # the stand-ins, not MLflow
"""


class ExampleModelTest(unittest.TestCase):
    @unittest.skipIf(sys.version_info < (3, 10), "sys.stdlib_module_names needs Python 3.10")
    def test_loads_and_predicts_with_only_the_runtime_dependencies(self) -> None:
        result = subprocess.run([sys.executable, "-c", ONLY_RUNTIME_DEPS, EXAMPLE_MODEL],
                                capture_output=True, env=child_env(), cwd=REPO, timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        lines = result.stdout.decode().splitlines()
        self.assertEqual(lines[-3:], ["['setosa']", "[]", "True"])

    def test_served_example_answers_what_the_readme_shows(self) -> None:
        server = start_tinyserve(os.path.relpath(EXAMPLE_MODEL, REPO))
        try:
            reply = request(server.port, "POST", "/invocations",
                            json.dumps(README_REQUEST).encode(),
                            {"Content-Type": "application/json"})
        finally:
            server.stop()
        self.assertEqual(reply.body.decode(), README_ANSWER)
        with open(os.path.join(REPO, "README.md"), encoding="utf-8") as handle:
            readme = handle.read()
        self.assertIn(README_ANSWER, readme)
        self.assertIn(json.dumps(README_REQUEST), readme)


if __name__ == "__main__":
    unittest.main()
