"""``tinyserve predict`` against ``mlflow models predict`` on the same inputs: the same bytes.

Runs when TINYSERVE_MLFLOW_PYTHON names a Python with MLflow 3.17 (``.ci/run`` sets one up);
skipped with that reason otherwise. MLflow itself never runs in tinyserve's own environment.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
import unittest

from tests.support import EXAMPLE_MODEL, MLFLOW_PYTHON_ENV, REPO, SUMMARY_LINES, fixture, run_cli

SPLIT_A = b'{"dataframe_split": {"columns": ["a", "b"], "data": [[0.0, 1.0], [5.0, 2.0]]}}'
FLOAT_AB_CSV = b"a,b\n0.5,1.0\n5.0,2.5\n1.5,0.25\n"
IRIS_CSV = (b"sepal_length,sepal_width,petal_length,petal_width\n"
            b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n5.9,3.0,4.2,1.5\n")

# (name, model, content type, input): tinyserve's default output must equal MLflow's bytes.
CASES = [
    ("sklearn, dataframe_split", fixture("sk_skops"), "json", SPLIT_A),
    ("sklearn predict_proba, csv", fixture("sk_proba"), "csv", FLOAT_AB_CSV),
    ("DataFrame answer, csv", fixture("pyfunc_compressed"), "csv", b"x\n1.5\n-2.25\n"),
    ("dict of columns answer, csv", fixture("pyfunc_dict_output"), "csv", FLOAT_AB_CSV),
    ("unified LLM payload, unwrapped", fixture("pyfunc_params"), "json",
     b'{"messages": [{"role": "user", "content": "x"}], "kind": "np_int"}'),
    ("models from code, csv", EXAMPLE_MODEL, "csv", IRIS_CSV),
]


def mlflow_predict(python: str, model: str, kind: str, data: bytes
                   ) -> subprocess.CompletedProcess:
    with tempfile.NamedTemporaryFile(suffix="." + kind) as source:
        source.write(data)
        source.flush()
        env = dict(os.environ)
        env["PATH"] = os.path.dirname(python) + os.pathsep + env.get("PATH", "")
        return subprocess.run(
            [python, "-m", "mlflow", "models", "predict", "-m", model, "-i", source.name,
             "-t", kind, "--env-manager", "local"],
            capture_output=True, cwd=REPO, env=env, timeout=300)


class PredictLikeMlflowTest(unittest.TestCase):
    def setUp(self) -> None:
        self.python = os.environ.get(MLFLOW_PYTHON_ENV)
        if not self.python:
            self.skipTest(f"{MLFLOW_PYTHON_ENV} is not set: no MLflow 3.17 to compare with "
                          "(.ci/run sets it up)")

    def test_same_output_bytes_as_mlflow_models_predict(self) -> None:
        same = 0
        for name, model, kind, data in CASES:
            with self.subTest(name):
                theirs = mlflow_predict(self.python, model, kind, data)
                self.assertEqual(theirs.returncode, 0, theirs.stderr.decode()[-2000:])
                ours = run_cli("predict", "-m", model, "-t", kind, "--batch-size", "2",
                               input_bytes=data)
                self.assertEqual(ours.returncode, 0, ours.stderr.decode())
                self.assertEqual(ours.stdout, theirs.stdout)
                same += 1
        SUMMARY_LINES.append(f"predict vs mlflow models predict: {same}/{len(CASES)} same bytes")

    def test_csv_of_integers_for_double_columns_is_the_documented_difference(self) -> None:
        data = b"a,b\n0,1\n5,2\n"
        theirs = mlflow_predict(self.python, fixture("sk_skops"), "csv", data)
        self.assertNotEqual(theirs.returncode, 0)
        self.assertIn(b"Can not safely convert int64 to float64", theirs.stderr)
        ours = run_cli("predict", "-m", fixture("sk_skops"), "-t", "csv", input_bytes=data)
        self.assertEqual((ours.returncode, ours.stdout), (0, b'{"predictions": [0, 1]}'))


if __name__ == "__main__":
    unittest.main()
