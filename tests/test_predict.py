"""``tinyserve predict`` run for real in a subprocess: pipes, files, formats, chunks, errors."""
from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import sys
import tempfile
import unittest

from tests.support import EXAMPLE_MODEL, REPO, child_env, fixture, run_cli
from tests.test_cli import one_line_error

IRIS_HEADER = "sepal_length,sepal_width,petal_length,petal_width\n"
IRIS_ROWS = ["5.1,3.5,1.4,0.2", "6.7,3.0,5.2,2.3", "5.9,3.0,4.2,1.5"]
IRIS_LABELS = ["setosa", "virginica", "versicolor"]
IRIS_CSV = (IRIS_HEADER + "\n".join(IRIS_ROWS) + "\n").encode()


def iris_csv(repeat: int) -> bytes:
    return (IRIS_HEADER + "\n".join(IRIS_ROWS * repeat) + "\n").encode()


def ab_csv(rows: int) -> bytes:
    """Rows for the two-double-column fixtures (a, b): totals 0.5, 2.0, 3.5, ..."""
    return ("a,b\n" + "".join(f"{i * 0.5},{i}\n" for i in range(rows))).encode()


class PredictPipesAndFilesTest(unittest.TestCase):
    def test_csv_on_stdin_gives_mlflows_json_on_stdout_without_newline(self) -> None:
        result = run_cli("predict", "-m", EXAMPLE_MODEL, "-t", "csv", input_bytes=IRIS_CSV)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, json.dumps({"predictions": IRIS_LABELS}).encode())
        self.assertEqual(result.stderr, b"")  # no progress line: stderr is not a terminal

    def test_json_document_is_read_like_the_server_reads_it(self) -> None:
        body = json.dumps({"dataframe_split": {"columns": ["a", "b"],
                                               "data": [[0.0, 1.0], [5.0, 2.0]]}})
        result = run_cli("predict", "-m", fixture("sk_skops"), input_bytes=body.encode())
        self.assertEqual((result.returncode, result.stdout), (0, b'{"predictions": [0, 1]}'))

    def test_unified_llm_payload_answer_is_unwrapped_as_in_mlflow(self) -> None:
        body = b'{"messages": [{"role": "user", "content": "x"}], "kind": "np_int"}'
        result = run_cli("predict", "-m", fixture("pyfunc_params"), input_bytes=body)
        self.assertEqual((result.returncode, result.stdout), (0, b"[1, 2, 3]"))

    def test_file_to_file_with_csv_names_writes_csv(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            source, target = os.path.join(tmp, "in.csv"), os.path.join(tmp, "out.csv")
            with open(source, "wb") as f:
                f.write(IRIS_CSV)
            result = run_cli("predict", "-m", EXAMPLE_MODEL, "-i", source, "-o", target)
            self.assertEqual(result.returncode, 0, result.stderr)
            with open(target, encoding="utf-8") as f:
                self.assertEqual(f.read(), "prediction\n" + "\n".join(IRIS_LABELS) + "\n")
            self.assertEqual(sorted(os.listdir(tmp)), ["in.csv", "out.csv"])  # no temp file left

    def test_a_reader_that_stops_early_ends_the_run_quietly(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            source = os.path.join(tmp, "in.csv")
            with open(source, "wb") as f:
                f.write(iris_csv(20000))  # far more output than a pipe buffer holds
            process = subprocess.Popen(
                [sys.executable, "-m", "tinyserve", "predict", "-m", EXAMPLE_MODEL, "-i", source,
                 "--output-format", "csv", "--batch-size", "1000"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, env=child_env())
            try:
                self.assertEqual(process.stdout.readline(), b"prediction\n")
                process.stdout.close()  # like `| head -1`
                stderr = process.stderr.read()
                self.assertEqual(process.wait(timeout=120), 141)
            finally:
                if process.poll() is None:
                    process.kill()
                process.stderr.close()
        self.assertEqual(stderr, b"")

    def test_output_format_flag_overrides_the_file_name(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            target = os.path.join(tmp, "out.csv")
            result = run_cli("predict", "-m", EXAMPLE_MODEL, "-t", "csv", "-o", target,
                             "--output-format", "json", input_bytes=IRIS_CSV)
            self.assertEqual(result.returncode, 0, result.stderr)
            with open(target, encoding="utf-8") as f:
                self.assertEqual(json.load(f), {"predictions": IRIS_LABELS})

    def test_json_lines_in_and_out(self) -> None:
        lines = b'{"a": 1.0, "b": 0.5}\n\n{"a": 2.0, "b": 3.0}\n'
        result = run_cli("predict", "-m", fixture("pyfunc_dict_output"), "-t", "jsonl",
                         "--output-format", "jsonl", input_bytes=lines)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual([json.loads(line) for line in result.stdout.splitlines()],
                         [{"total": 1.5, "label": "small"}, {"total": 5.0, "label": "big"}])

    def test_include_input_writes_input_columns_first(self) -> None:
        result = run_cli("predict", "-m", EXAMPLE_MODEL, "-t", "csv", "--output-format", "csv",
                         "--include-input", input_bytes=IRIS_CSV)
        self.assertEqual(result.returncode, 0, result.stderr)
        rows = list(csv.reader(io.StringIO(result.stdout.decode())))
        self.assertEqual(rows[0], IRIS_HEADER.strip().split(",") + ["prediction"])
        self.assertEqual([row[-1] for row in rows[1:]], IRIS_LABELS)
        self.assertEqual([float(v) for v in rows[1][:4]], [5.1, 3.5, 1.4, 0.2])

    def test_a_prediction_column_named_like_an_input_column_gets_a_suffix(self) -> None:
        result = run_cli("predict", "-m", fixture("pyfunc_compressed"), "-t", "csv",
                         "--output-format", "csv", "--include-input", input_bytes=b"x\n1.5\n")
        self.assertEqual((result.returncode, result.stdout), (0, b"x,x_prediction\n1.5,3.0\n"))

    def test_two_dimensional_predictions_get_numbered_columns(self) -> None:
        result = run_cli("predict", "-m", fixture("sk_proba"), "-t", "csv", "--output-format",
                         "csv", input_bytes=b"a,b\n0.0,1.0\n5.0,2.0\n")
        rows = list(csv.reader(io.StringIO(result.stdout.decode())))
        self.assertEqual(rows[0], ["prediction_0", "prediction_1"])
        self.assertGreater(float(rows[1][0]), 0.5)
        self.assertLess(float(rows[2][0]), 0.5)

    def test_csv_cells_are_quoted_when_they_must_be(self) -> None:
        text = 'x,note\n1.0,"a, ""b"""\n4.0,"two\nlines"\n'
        result = run_cli("predict", "-m", fixture("pyfunc_artifacts"), "-t", "csv",
                         "--output-format", "csv", "--include-input", input_bytes=text.encode())
        self.assertEqual(result.returncode, 0, result.stderr)
        rows = list(csv.reader(io.StringIO(result.stdout.decode())))
        self.assertEqual(rows, [["x", "note", "score", "label"],
                                ["1.0", 'a, "b"', "0.5", "cfg-high"],
                                ["4.0", "two\nlines", "2.0", "cfg-high"]])

    def test_env_sets_variables_before_the_model_loads(self) -> None:
        config = json.dumps({"prefix": "env-", "threshold": 0.5})
        result = run_cli("predict", "-m", fixture("pyfunc_artifacts"), "-t", "csv",
                         "--env", f"SERVING_MODEL_CONFIG={config}", input_bytes=b"x\n4.0\n")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(json.loads(result.stdout)["predictions"][0]["label"], "env-high")

    def test_parquet_input_with_the_extra(self) -> None:
        import pandas as pd

        with tempfile.TemporaryDirectory() as tmp:
            source = os.path.join(tmp, "in.parquet")
            pd.DataFrame({"a": [0.0, 5.0], "b": [1.0, 2.0]}).to_parquet(source)
            result = run_cli("predict", "-m", fixture("sk_skops"), "-i", source)
        self.assertEqual((result.returncode, result.stdout), (0, b'{"predictions": [0, 1]}'))


class ChunkedEqualsWholeTest(unittest.TestCase):
    """Scoring in chunks of 7 rows gives the same bytes as scoring the input whole."""

    CASES = [
        ("iris: array of labels", EXAMPLE_MODEL, "csv", iris_csv(10)),
        ("sk_proba: 2-D array", fixture("sk_proba"), "csv", ab_csv(30)),
        ("pyfunc_compressed: DataFrame", fixture("pyfunc_compressed"), "csv",
         b"x\n" + b"".join(b"%d.25\n" % i for i in range(25))),
        ("pyfunc_artifacts: DataFrame with strings, quoted newlines", fixture("pyfunc_artifacts"),
         "csv", b"x,note\n" + b"".join(b'%d,"n %d\nsecond, line"\n' % (i - 9, i) for i in range(20))),
        ("pyfunc_dict_output: dict of columns", fixture("pyfunc_dict_output"), "csv", ab_csv(23)),
        ("pyfunc_dict_output: json lines", fixture("pyfunc_dict_output"), "jsonl",
         b"".join(b'{"a": %d.5, "b": 1}\n' % i for i in range(23))),
    ]

    def test_every_output_format(self) -> None:
        for name, model, kind, data in self.CASES:
            for output in ("json", "csv", "jsonl"):
                with self.subTest(name, output=output):
                    whole, chunked = (
                        run_cli("predict", "-m", model, "-t", kind, "--output-format", output,
                                "--batch-size", size, input_bytes=data)
                        for size in ("0", "7"))
                    self.assertEqual(whole.returncode, 0, whole.stderr)
                    self.assertEqual(chunked.returncode, 0, chunked.stderr)
                    self.assertEqual(chunked.stdout, whole.stdout)
                    rows = len(json.loads(whole.stdout)["predictions"]) if output == "json" \
                        and "dict" not in name else None
                    if rows is not None:
                        self.assertGreater(rows, 7)

    def test_dict_output_values_are_right(self) -> None:
        result = run_cli("predict", "-m", fixture("pyfunc_dict_output"), "-t", "csv",
                         "--batch-size", "2", input_bytes=ab_csv(5))
        totals = [i * 0.5 + i for i in range(5)]
        self.assertEqual(json.loads(result.stdout), {"predictions": {
            "total": totals, "label": ["big" if t > 3 else "small" for t in totals]}})

    def test_an_answer_that_is_not_one_value_per_row_cannot_be_chunked(self) -> None:
        data = b"x\n1\n2\n3\n"
        chunked = run_cli("predict", "-m", fixture("pyfunc_code_ref"), "-t", "csv",
                          "--batch-size", "2", input_bytes=data)
        one_line_error(self, chunked, 1, "not one value per row", "--batch-size 0",
                       "nothing was written to stdout")
        whole = run_cli("predict", "-m", fixture("pyfunc_code_ref"), "-t", "csv",
                        "--batch-size", "0", input_bytes=data)
        self.assertEqual(json.loads(whole.stdout)["predictions"]["rows"], 3)


class PredictBadInputTest(unittest.TestCase):
    def test_bad_value_names_line_row_and_column_and_leaves_no_file(self) -> None:
        data = iris_csv(5).replace(b"6.7,3.0,5.2,2.3\n5.9", b"6.7,abc,5.2,2.3\n5.9", 3)
        with tempfile.TemporaryDirectory() as tmp:
            target = os.path.join(tmp, "out.csv")
            result = run_cli("predict", "-m", EXAMPLE_MODEL, "-t", "csv", "-o", target,
                             "--batch-size", "4", input_bytes=data)
            self.assertEqual(os.listdir(tmp), [])
        one_line_error(self, result, 1, "line 3 (row 2)", "column 'sepal_width'", "'abc'",
                       "nothing was written to")

    def test_bad_value_in_a_later_chunk_counts_lines_across_chunks(self) -> None:
        rows = IRIS_ROWS * 4
        rows[9] = "5.0,3.0,x,1.0"  # row 10, line 11 (a short row is NaN-filled, as over HTTP)
        data = (IRIS_HEADER + "\n".join(rows) + "\n").encode()
        result = run_cli("predict", "-m", EXAMPLE_MODEL, "-t", "csv", "--batch-size", "4",
                         input_bytes=data)
        one_line_error(self, result, 1, "stdin: line 11 (row 10): column 'petal_length': 'x'",
                       "predictions for 8 rows were written to stdout")

    def test_extra_field_is_reported_although_pandas_would_read_it_alone(self) -> None:
        data = IRIS_CSV.replace(b"6.7,3.0,5.2,2.3", b"6.7,3.0,5.2,2.3,9")
        one_line_error(self, run_cli("predict", "-m", EXAMPLE_MODEL, "-t", "csv",
                                     input_bytes=data), 1, "line 3 (row 2): the row has 5 fields")

    def test_schema_error_gives_mlflows_reason_without_the_data_echo(self) -> None:
        result = run_cli("predict", "-m", EXAMPLE_MODEL, "-t", "csv",
                         input_bytes=b"sepal_length,sepal_width\n1,2\n")
        one_line_error(self, result, 1, "line 2 (row 1): Model is missing inputs")
        self.assertNotIn(b"Failed to predict data", result.stderr)

    def test_bad_json_line_is_named(self) -> None:
        lines = b'{"a": 1.0, "b": 0.5}\n{"a": 1.0, "b": }\n'
        one_line_error(self, run_cli("predict", "-m", fixture("pyfunc_dict_output"), "-t",
                                     "jsonl", input_bytes=lines), 1, "line 2 (row 2)")

    def test_json_document_errors_have_no_line(self) -> None:
        one_line_error(self, run_cli("predict", "-m", EXAMPLE_MODEL, input_bytes=b"[1, 2]"), 1,
                       "stdin: Invalid input", "Received a list")

    def test_empty_csv_and_missing_file(self) -> None:
        one_line_error(self, run_cli("predict", "-m", EXAMPLE_MODEL, "-t", "csv",
                                     input_bytes=b""), 1, "the CSV input is empty")
        one_line_error(self, run_cli("predict", "-m", EXAMPLE_MODEL, "-i", "no/such.csv"), 1,
                       "cannot read no/such.csv")

    def test_header_only_csv_gives_an_empty_answer(self) -> None:
        result = run_cli("predict", "-m", EXAMPLE_MODEL, "-t", "csv", input_bytes=b"a,b\n")
        self.assertEqual((result.returncode, result.stdout), (0, b'{"predictions": []}'))

    def test_refused_flags_exit_2_with_one_line(self) -> None:
        cases = [
            (["-t", "xml"], "Content type must be one of json, csv, jsonl or parquet"),
            (["-r", "numpy==1.0"], "--pip-requirements-override is not supported"),
            (["--env-manager", "conda"], "--env-manager conda is not supported"),
            (["--install-mlflow"], "--install-mlflow is not supported"),
            (["--env", "NOEQUALS"], "is not a valid key value pair"),
            (["--include-input"], "--include-input needs --output-format csv or jsonl"),
            (["--batch-size", "-1"], "--batch-size must be 0 or more"),
        ]
        for flags, text in cases:
            with self.subTest(flags=flags):
                one_line_error(self, run_cli("predict", "-m", EXAMPLE_MODEL, *flags,
                                             input_bytes=IRIS_CSV), 2, text)


class ProgressOutputTest(unittest.TestCase):
    def run_on_terminal(self, *flags: str) -> str:
        """Run predict with stderr on a pseudo-terminal; what the terminal showed."""
        leader, follower = pty.openpty()
        try:
            process = subprocess.run(
                [sys.executable, "-m", "tinyserve", "predict", "-m", EXAMPLE_MODEL, "-t", "csv",
                 "--batch-size", "5", *flags],
                input=iris_csv(20), stdout=subprocess.PIPE, stderr=follower, cwd=REPO,
                env=child_env(), timeout=120)
            os.close(follower)
            follower = -1
            shown = b""
            while True:
                try:
                    block = os.read(leader, 4096)
                except OSError:  # EIO once the child side is closed
                    break
                if not block:
                    break
                shown += block
        finally:
            os.close(leader)
            if follower != -1:
                os.close(follower)
        self.assertEqual(process.returncode, 0)
        self.assertEqual(len(json.loads(process.stdout)["predictions"]), 60)
        return shown.decode()

    def test_progress_line_on_a_terminal(self) -> None:
        shown = self.run_on_terminal()
        self.assertIn("\r", shown)
        self.assertIn("60 rows", shown)
        self.assertIn("rows/s", shown)

    def test_quiet_silences_it(self) -> None:
        self.assertEqual(self.run_on_terminal("--quiet"), "")


if __name__ == "__main__":
    unittest.main()
