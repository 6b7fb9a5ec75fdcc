"""Layer A: request data -> DataFrames / arrays pre-cast towards the signature (spec 4.5-4.8,
5, 7.1, 7.5). Expected values and texts are MLflow 3.17.2's (checked against its own parsing
functions); the "deliberate" tests pin tinyserve's documented refusals instead.

Long because it is one table per request format, kept together with the refusals they
share.
"""
from __future__ import annotations

import base64
import io
import json
import math
import unittest

import numpy as np
import pandas as pd

from tinyserve.errors import ScoringError, UnsupportedMediaType
from tinyserve.frames import build_json_input, read_csv, read_parquet
from tinyserve.payload import JsonRequest
from tinyserve.signature import parse_schema


def schema(*specs: dict):
    return parse_schema(json.dumps(list(specs)))


MODEL_A = schema({"type": "double", "name": "a"}, {"type": "double", "name": "b"})
MODEL_C = schema(*[{"type": t, "name": n} for t, n in (
    ("boolean", "bo"), ("integer", "i32"), ("long", "i64"), ("float", "f32"), ("double", "f64"),
    ("string", "s"), ("binary", "bin"), ("datetime", "dt"))],
    {"type": "double", "name": "opt", "required": False})
MODEL_T = schema({"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 2]}})
UNNAMED = schema({"type": "double"}, {"type": "long"})
PROMPT = schema({"type": "string", "name": "prompt"})
COMPLEX = schema({"type": "array", "items": {"type": "long"}, "name": "arr", "required": True},
                 {"type": "object", "name": "obj", "required": True, "properties": {
                     "age": {"type": "long", "required": False},
                     "name": {"type": "string", "required": True}}},
                 {"type": "map", "values": {"type": "double"}, "name": "m", "required": True},
                 {"type": "any", "name": "any", "required": False})
ROW_C = {"bo": True, "i32": 1, "i64": 2, "f32": 1.5, "f64": 2.5, "s": "x", "bin": "aGk=",
         "dt": "2024-01-02"}
CONVERT = "Invalid input. Data is not compatible with model signature. Failed to convert column "


def build(fmt: str, data, input_schema=None):
    return build_json_input(JsonRequest(data, fmt, None, False), input_schema)


def split_c(**changes) -> dict:
    row = dict(ROW_C, **changes)
    return {"columns": list(row), "data": [list(row.values())]}


def records_c(**changes) -> list:
    return [dict(ROW_C, **changes)]


class FrameTestCase(unittest.TestCase):
    def refusal(self, fmt: str, data, input_schema=None) -> ScoringError:
        with self.assertRaises(ScoringError) as caught:
            build(fmt, data, input_schema)
        self.assertEqual((caught.exception.status, caught.exception.error_code),
                         (400, "BAD_REQUEST"))
        return caught.exception


class DataFrameFormatsTest(FrameTestCase):
    def test_split_and_records_shapes_refused_with_mlflow_text(self) -> None:  # 44-47, 50
        cases = [
            ("dataframe_split", [1], "Invalid input. Dataframe split format must be a dictionary. "
                                     "Got list."),
            ("dataframe_split", "x", "Invalid input. Dataframe split format must be a dictionary. "
                                     "Got type <class 'str'>."),
            ("dataframe_split", {"data": [], "extra": 1}, None),
            ("dataframe_split", {"index": [1, 2], "data": [[1], [2], [3]]},
             "Invalid input. Provided dataframe_split field is not a valid dataframe representation "
             "in 'split' format. Error: 'Length of values (3) does not match length of index (2)'"),
            ("dataframe_split", {"columns": ["a", "b"], "data": [1, 2]},
             "Invalid input. Provided dataframe_split field is not a valid dataframe representation "
             "in 'split' format. Error: 'Shape of passed values is (2, 1), indices imply (2, 2)'"),
            ("dataframe_records", {"a": 1}, "Invalid input. Dataframe records format must be a list "
                                            "of records. Got dictionary."),
            ("dataframe_records", "x", "Invalid input. Dataframe records format must be a list of "
                                       "records. Got type <class 'str'>."),
            ("dataframe_records", [{"a": 1}, 5],
             "Invalid input. Provided dataframe_records field is not a valid dataframe "
             "representation in 'records' format. Error: ''int' object is not iterable'"),
        ]
        for fmt, data, message in cases:
            for input_schema in (None, MODEL_A):
                with self.subTest(fmt=fmt, data=data, schema=input_schema is not None):
                    error = self.refusal(fmt, data, input_schema)
                    if message is None:  # 46: a set of the keys, in any order, and a stray '
                        self.assertRegex(error.message, r"^Invalid input\. Dataframe split format "
                                         r"must have 'data' field and optionally 'columns' and "
                                         r"'index' fields\. Got \{.*'extra'.*\}\.'$")
                    else:
                        self.assertEqual(error.message, message)

    def test_model_a_frames_hold_float64_columns(self) -> None:  # 35-38, 42, 43, 48, 49
        cases = [
            ("dataframe_split", {"columns": ["a", "b"], "data": [[0, 1], [5, 2]]},
             {"a": [0.0, 5.0], "b": [1.0, 2.0]}, None),
            ("dataframe_split", {"columns": ["b", "a"], "data": [[True, None]]},
             {"b": [1.0], "a": [math.nan]}, None),
            ("dataframe_split", {"index": None, "columns": ["a", "b"], "data": [["2.5", 1]]},
             {"a": [2.5], "b": [1.0]}, None),
            ("dataframe_split", {"index": [5, 6], "columns": ["a", "b", "c"],
                                 "data": [[1, 2, "z"], [3, 4, "y"]]},
             {"a": [1.0, 3.0], "b": [2.0, 4.0], "c": ["z", "y"]}, [5, 6]),
            ("dataframe_records", [{"a": 0.0, "b": 1.0}, {"a": 5, "b": 2}],
             {"a": [0.0, 5.0], "b": [1.0, 2.0]}, None),
            ("dataframe_records", [{"a": 1, "b": 2}, {"a": 3}], {"a": [1.0, 3.0],
                                                                 "b": [2.0, math.nan]}, None),
        ]
        for fmt, data, columns, index in cases:
            with self.subTest(fmt=fmt, data=data):
                frame = build(fmt, data, MODEL_A)
                expected = pd.DataFrame(columns, index=index)
                for name in ("a", "b"):
                    expected[name] = expected[name].astype(np.float64)
                pd.testing.assert_frame_equal(frame, expected, check_column_type=False)
                self.assertEqual(frame.columns.dtype, np.dtype(object))

    def test_bad_number_in_double_column_names_the_column(self) -> None:  # 41
        error = self.refusal("dataframe_split", {"columns": ["a", "b"], "data": [["x", 1.0]]},
                             MODEL_A)
        self.assertEqual(error.message, CONVERT + "a to type 'float64'. Error: "
                         "'ValueError(\"could not convert string to float: 'x'\")'")

    def test_unhashable_split_columns_are_400_deliberately(self) -> None:  # MLflow: 500
        error = self.refusal("dataframe_split", {"columns": [{"a": 1}], "data": [[1]]}, MODEL_A)
        self.assertEqual(error.message, "Invalid input. Provided dataframe_split field is not a "
                         "valid dataframe representation in 'split' format. Error: 'unhashable "
                         "type: 'dict''")

    def test_empty_records_give_an_empty_frame(self) -> None:  # 51
        frame = build("dataframe_records", [], MODEL_A)
        self.assertEqual(frame.shape, (0, 0))

    def test_missing_and_extra_columns_are_left_to_layer_b(self) -> None:  # 39, 40, 78
        self.assertEqual(list(build("dataframe_split", {"columns": ["a"], "data": [[1]]},
                                    MODEL_A).columns), ["a"])
        self.assertEqual(list(build("dataframe_split", {"data": [[1, 2]]}, MODEL_A).columns),
                         [0, 1])
        row = dict(ROW_C)
        self.assertNotIn("opt", build("dataframe_records", [row], MODEL_C).columns)
        self.assertTrue(math.isnan(build("dataframe_records", [dict(row, opt=None)],
                                         MODEL_C)["opt"][0]))


class ScalarColumnsTest(FrameTestCase):
    """Model C, one changed value (spec 7.5, checklist 68-78)."""

    KEPT = [  # change -> (column, value the model sees) for split and records alike
        ({"bo": None}, "bo", False),  # 68: MLflow's null -> False is kept
        ({"bo": 0}, "bo", False),
        ({"i32": "7"}, "i32", 7),
        ({"i32": True}, "i32", 1),
        ({"i32": 2.0}, "i32", 2),
        ({"f64": "2.5"}, "f64", 2.5),
        ({"f64": True}, "f64", 1.0),
        ({"s": 1}, "s", 1),  # 73: the int stays an int
        ({"s": None}, "s", None),
        ({"bin": "aGk="}, "bin", b"hi"),  # 74
        ({"dt": "01/02/2024"}, "dt", pd.Timestamp("2024-01-02")),
        ({"dt": 1.7e18}, "dt", pd.Timestamp(1.7e18)),
    ]
    REFUSED = [  # change -> message tail after "Failed to convert column "
        ({"i64": None}, "i64 to type 'int64'. Error: 'TypeError(\"int() argument must be a string, "
                        "a bytes-like object or a real number, not 'NoneType'\")'"),  # 72
        ({"f64": "abc"}, "f64 to type 'float64'. Error: 'ValueError(\"could not convert string to "
                         "float: 'abc'\")'"),
        ({"bin": "aGk"}, "bin to type '<class 'object'>'. Error: 'Error('Incorrect padding')'"),
        ({"bin": None}, "bin to type '<class 'object'>'. Error: 'TypeError('encoding without a "
                        "string argument')'"),
        ({"dt": "nope"}, "dt to type 'datetime64[ns]'. Error: 'DateParseError('Unknown datetime "
                         "string format, unable to parse: nope')'"),  # 77
    ]

    def test_lenient_casts_kept_from_mlflow(self) -> None:
        for change, column, value in self.KEPT:
            for fmt, data in (("dataframe_split", split_c(**change)),
                              ("dataframe_records", records_c(**change))):
                with self.subTest(fmt=fmt, change=change):
                    self.assertEqual(build(fmt, data, MODEL_C)[column][0], value)

    def test_uncastable_values_name_the_column(self) -> None:
        for change, tail in self.REFUSED:
            for fmt, data in (("dataframe_split", split_c(**change)),
                              ("dataframe_records", records_c(**change))):
                with self.subTest(fmt=fmt, change=change):
                    self.assertEqual(self.refusal(fmt, data, MODEL_C).message, CONVERT + tail)

    def test_column_dtypes_after_the_cast(self) -> None:
        frame = build("dataframe_split", split_c(), MODEL_C)
        self.assertEqual([str(d) for d in frame.dtypes], ["bool", "int32", "int64", "float32",
                                                          "float64", "str", "object",
                                                          "datetime64[ns]"])

    def test_timezone_text_stays_tz_aware_for_layer_b(self) -> None:  # 76
        frame = build("dataframe_records", records_c(dt="2024-01-02T03:04:05Z"), MODEL_C)
        self.assertEqual(str(frame["dt"].dtype), "datetime64[ns, UTC]")


class DeliberateRefusalsTest(FrameTestCase):
    """Values MLflow changes silently are refused with a 400 naming the column."""

    CASES = [  # change -> message tail
        ({"bo": "false"}, "bo to type 'bool'. Error: 'the string 'false' is not a boolean; send "
                          "JSON true or false'"),  # 69
        ({"bo": "TRUE"}, "bo to type 'bool'. Error: 'the string 'TRUE' is not a boolean; send "
                         "JSON true or false'"),
        ({"i32": 1.5}, "i32 to type 'int32'. Error: 'value 1.5 is not a whole number and would be "
                       "truncated'"),  # 70
        ({"i64": -2.7}, "i64 to type 'int64'. Error: 'value -2.7 is not a whole number and would "
                        "be truncated'"),
        ({"i32": 2 ** 40}, "i32 to type 'int32'. Error: 'value 1099511627776 is out of range for "
                           "int32'"),  # 71
        ({"i64": 2 ** 63}, "i64 to type 'int64'. Error: 'value 9223372036854775808 is out of range "
                           "for int64'"),
        ({"i64": 1e20}, "i64 to type 'int64'. Error: 'value 1e+20 is out of range for int64'"),
        ({"i32": 3e9}, "i32 to type 'int32'. Error: 'value 3000000000.0 is out of range for "
                       "int32'"),
    ]

    def test_dataframe_formats_refuse_silent_changes(self) -> None:
        for change, tail in self.CASES:
            for fmt, data in (("dataframe_split", split_c(**change)),
                              ("dataframe_records", records_c(**change)),
                              ("dataframe_records", records_c(**change) + records_c())):
                with self.subTest(fmt=fmt, change=change, rows=len(data)):
                    self.assertEqual(self.refusal(fmt, data, MODEL_C).message, CONVERT + tail)

    def test_inputs_and_instances_refuse_truncation_and_boolean_words(self) -> None:
        for change, tail in self.CASES[:4]:
            row = dict(ROW_C, **change)
            for fmt, data in (("inputs", row), ("inputs", [row]), ("inputs", {
                    k: [v] for k, v in row.items()}), ("instances", [row, ROW_C])):
                with self.subTest(fmt=fmt, change=change, data=data):
                    self.assertEqual(self.refusal(fmt, data, MODEL_C).message, CONVERT + tail)

    def test_integer_tensors_refuse_truncation(self) -> None:
        ints = schema({"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}})
        for fmt, data in (("inputs", [1.5, 2]), ("dataframe_split", {"data": [[1.5]]})):
            with self.subTest(fmt=fmt):
                self.assertEqual(self.refusal(fmt, data, ints).message, CONVERT + "0 to type "
                                 "'int64'. Error: 'value 1.5 is not a whole number and would be "
                                 "truncated'")

    def test_mlflow_own_error_wins_over_a_refusal(self) -> None:
        data = {"columns": ["bo", "i64"], "data": [["false", "x"]]}
        self.assertEqual(self.refusal("dataframe_split", data, MODEL_C).message, CONVERT +
                         "i64 to type 'int64'. Error: 'ValueError(\"invalid literal for int() with "
                         "base 10: 'x'\")'")

    def test_whole_floats_and_in_range_integers_pass(self) -> None:
        frame = build("dataframe_split", split_c(i32=-2 ** 31, i64=2 ** 63 - 1, bo=None), MODEL_C)
        self.assertEqual((frame["i32"][0], frame["i64"][0], frame["bo"][0]),
                         (-2 ** 31, 2 ** 63 - 1, False))
        self.assertEqual(build("inputs", {"i32": [2.0, -3.0]}, MODEL_C)["i32"].tolist(), [2, -3])


class FastPathTest(FrameTestCase):
    """The shortcut for named scalar schemas must equal MLflow's pandas recipe exactly."""

    def mlflow_recipe(self, data: dict, input_schema) -> pd.DataFrame:
        frame = pd.DataFrame(columns=data.get("columns"), data=data["data"])
        targets = {"double": "float64", "long": "int64", "integer": "int32", "float": "float32",
                   "boolean": "bool"}
        for spec in input_schema.inputs:
            if spec.type in targets:
                frame[spec.name] = frame[spec.name].astype(targets[spec.type])
            elif spec.type == "binary":
                frame[spec.name] = frame[spec.name].map(lambda x: base64.decodebytes(x.encode()))
        return frame

    def test_results_equal_the_pandas_recipe(self) -> None:
        mixed = schema(*[{"type": t, "name": n} for t, n in (
            ("boolean", "bo"), ("integer", "i"), ("long", "l"), ("float", "f"), ("double", "d"),
            ("string", "s"), ("binary", "b"))])
        cases = [
            (MODEL_A, {"columns": ["a", "b"], "data": [[0.5, 1], [2, 3]]}),
            (MODEL_A, {"columns": ["b", "a"], "data": [[1, 2]]}),
            (schema({"type": "long", "name": "x"}, {"type": "long", "name": "y"}),
             {"columns": ["x", "y"], "data": [[1, -2], [3, 4]]}),
            (mixed, {"columns": ["bo", "i", "l", "f", "d", "s", "b"],
                     "data": [[True, 1, 2, 0.1, 7, "x", "aGk="], [False, -1, 3, 2, 0.5, "", ""]]}),
        ]
        for input_schema, data in cases:
            with self.subTest(data=data):
                expected = self.mlflow_recipe(data, input_schema)
                for fmt, payload in (("dataframe_split", data), ("dataframe_records", [
                        dict(zip(data["columns"], row)) for row in data["data"]])):
                    frame = build(fmt, payload, input_schema)
                    pd.testing.assert_frame_equal(frame, expected, check_column_type=False)
                    self.assertEqual(frame.columns.dtype, np.dtype(object))


class InputsAndInstancesTest(FrameTestCase):
    def test_values_become_numpy_as_mlflow_builds_them(self) -> None:  # 52-54, 60-62, 65, 66
        f64 = np.dtype("float64")
        cases = [  # schema, fmt, data, check(result)
            (MODEL_A, "inputs", {"a": [0.0, 5], "b": [1.0, 2.0]},
             lambda r: [v.dtype for v in r.values()] == [f64, f64]),
            (MODEL_A, "inputs", [{"a": 0.0, "b": 1}], lambda r: r == [{"a": 0.0, "b": 1.0}]
             and type(r[0]["b"]) is np.float64),
            (MODEL_A, "inputs", {"a": 1.0, "b": 2}, lambda r: type(r["b"]) is np.float64),
            (MODEL_A, "inputs", [[0.0, 1.0]], lambda r: r.shape == (1, 2) and r.dtype == f64),
            (MODEL_A, "inputs", {"a": [1.0], "b": [2.0, 3.0]}, lambda r: len(r["b"]) == 2),  # 56
            (None, "inputs", [1, 2, 3], lambda r: r.dtype == np.int64 and r.shape == (3,)),
            (None, "inputs", [1, "a", None], lambda r: r.dtype == np.dtype(object)),
            (None, "inputs", {"a": 1, "b": "x"}, lambda r: r["a"].shape == () and
             r["b"].dtype == np.dtype("<U1")),
            (None, "inputs", [], lambda r: r == []),
            (None, "inputs", {}, lambda r: r == {}),
            (None, "inputs", None, lambda r: r.dtype == np.dtype(object) and r.shape == ()),
            (None, "instances", [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}],
             lambda r: r["a"].tolist() == [1, 2] and r["b"].tolist() == ["x", "y"]),
            (None, "instances", [{"a": [1, 2]}, {"a": [3, 4]}], lambda r: r["a"].shape == (2, 2)),
            (PROMPT, "inputs", ["a", "b"], lambda r: r["prompt"].tolist() == ["a", "b"]),
            (PROMPT, "inputs", [1, 2], lambda r: r["prompt"].tolist() == ["1", "2"]),
            (MODEL_C, "inputs", {"s": 1, "bin": "aGk=", "dt": "2024-01-02T03:04:05Z"},
             lambda r: (r["s"], r["bin"], str(r["dt"])) == ("1", b"aGk=",
                                                           "2024-01-02T03:04:05.000000000")),
            (MODEL_C, "inputs", {"bo": [None, True], "f64": [None]},
             lambda r: r["bo"].tolist() == [False, True] and math.isnan(r["f64"][0])),
            (MODEL_T, "inputs", [[1, 2], [3, 4]], lambda r: r.dtype == np.float32 and
             r.shape == (2, 2)),  # 86
            (MODEL_T, "inputs", [1, 2], lambda r: r.dtype == np.float32 and r.shape == (2,)),
            (COMPLEX, "inputs", {"arr": [1, 2], "obj": {"name": "a"}, "m": {"k": 1}, "any": [{}]},
             lambda r: r["arr"].tolist() == [1, 2] and r["m"] == {"k": 1.0} and r["any"] == [{}]),
        ]
        for input_schema, fmt, data, check in cases:
            with self.subTest(fmt=fmt, data=data):
                self.assertTrue(check(build(fmt, data, input_schema)))

    def test_refusals_use_mlflow_texts(self) -> None:  # 57-59, 67, 71, 72
        unnamed = ("Invalid input. Failed to parse input data. This model contains an un-named  "
                   "model signature which expects a single n-dimensional array or a single value "
                   "as input, however, an input of type <class '{}'> was found.")
        cases = [
            (MODEL_A, "instances", [{"a": 1.0, "b": 2.0}, {"a": 1.0}],
             "Invalid input. The length of values for each input/column name are not the same"),
            (None, "instances", [{"a": 1}, 5], "Invalid input. Ensure that the input is a valid "
             "JSON-formatted string.\nError: AttributeError(\"'int' object has no attribute "
             "'items'\")"),
            (None, "instances", {"a": 1}, "Invalid input. Ensure that the input is a valid "
             "JSON-formatted string.\nError: TypeError('len() of unsized object')"),
            (None, "inputs", [[1, 2], [3]], "Invalid input. setting an array element with a "
             "sequence. The requested array has an inhomogeneous shape after 1 dimensions. The "
             "detected shape was (2,) + inhomogeneous part."),
            (UNNAMED, "inputs", {"x": [1]}, unnamed.format("dict")),
            (MODEL_T, "inputs", None, unnamed.format("NoneType")),
            (MODEL_A, "inputs", "abc", "Invalid input. Failed to convert data `abc` to type "
             "`'a': double (required)` defined in the model signature."),
            (MODEL_C, "inputs", {"i32": [2 ** 40]},
             "Invalid input. Python integer 1099511627776 out of bounds for int32"),
            (MODEL_C, "inputs", {"i64": [None]}, "Invalid input. int() argument must be a string, "
             "a bytes-like object or a real number, not 'NoneType'"),
            (MODEL_C, "inputs", {"bin": ["\u00e9"]}, "Invalid input. 'ascii' codec can't encode "
             "character '\\xe9' in position 0: ordinal not in range(128)"),
            (MODEL_C, "inputs", {"dt": ["01/02/2024"]},
             "Invalid input. Error parsing datetime string \"01/02/2024\" at position 2"),
            (COMPLEX, "inputs", {"arr": [1], "obj": {"age": 1}, "m": {}},
             "Invalid input. Missing required properties: {'name'}"),
            (COMPLEX, "dataframe_records", [{"arr": 5, "obj": {"name": "a"}, "m": {}}], CONVERT +
             "arr to type 'Array(long)'. Error: 'MlflowException('Expected data to be list or "
             "numpy array, got int')'"),
        ]
        for input_schema, fmt, data, message in cases:
            with self.subTest(fmt=fmt, data=data):
                self.assertEqual(self.refusal(fmt, data, input_schema).message, message)

    def test_llm_and_type_hint_data_pass_untouched(self) -> None:  # 106-110, 112
        for fmt, data in (("llm", {"messages": [{"role": "user"}], "n": 1}),
                          ("type_hint", ["a", 1]), ("type_hint", {"x": [1]})):
            with self.subTest(fmt=fmt):
                self.assertIs(build(fmt, data, PROMPT), data)


class TensorFramesTest(FrameTestCase):
    def test_tensor_schema_casts_every_scalar_column(self) -> None:  # 88
        frame = build("dataframe_split", {"columns": ["a", "b", "c"], "data": [[1, 2, 3]]},
                      MODEL_T)
        self.assertEqual([str(d) for d in frame.dtypes], ["float32"] * 3)
        lists = build("dataframe_split", {"columns": ["a"], "data": [[[1, 2]], [[3, 4]]]}, MODEL_T)
        self.assertEqual(lists["a"].tolist(), [[1, 2], [3, 4]])


class CsvTest(unittest.TestCase):
    PARSE = ("Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid "
             "CSV-formatted Pandas DataFrame produced using the `pandas.DataFrame.to_csv()` "
             "method. Error: '{}'")

    def test_csv_bodies_become_frames(self) -> None:  # 90, 91, 113
        cases = [(MODEL_A, b"a,b\n0.0,1.0\n5.0,2.0\n", ["a", "b"], [[0.0, 1.0], [5.0, 2.0]]),
                 (MODEL_A, b"0.0,1.0\r\n5.0,2.0", ["0.0", "1.0"], [[5.0, 2.0]]),
                 (PROMPT, b"prompt\n123\n", ["prompt"], [["123"]]),
                 (schema({"type": "string"}), b"x\na\nb\n", ["x"], [["a"], ["b"]]),
                 (None, b"a,b\n", ["a", "b"], [])]
        for input_schema, body, columns, rows in cases:
            with self.subTest(body=body):
                frame = read_csv(body, input_schema)
                self.assertEqual((list(frame.columns), frame.values.tolist()), (columns, rows))

    def test_parse_failures_carry_a_stack_trace(self) -> None:  # 89, 92, 94, 95
        cases = [(MODEL_A, b"", "No columns to parse from file"),
                 (MODEL_A, b"a,b\nx,1\n", None),
                 (MODEL_T, b"a,b\n1,2\n",
                  "TensorSpec only supports numpy types, use numpy_types() instead"),
                 (COMPLEX, b"arr\n1\n",
                  "Failed to get pandas types as some of the inputs types are not DataType."),
                 (MODEL_C, b"bo,dt\nTrue,2024-01-02\n", "the dtype datetime64[ns] is not "
                  "supported for parsing, pass this column using parse_dates instead")]
        for input_schema, body, error in cases:
            with self.subTest(body=body):
                with self.assertRaises(ScoringError) as caught:
                    read_csv(body, input_schema)
                self.assertEqual(caught.exception.error_code, "BAD_REQUEST")
                self.assertTrue(caught.exception.stack_trace)
                if error is not None:
                    self.assertEqual(caught.exception.message, self.PARSE.format(error))

    def test_invalid_utf8_is_400_without_stack_trace(self) -> None:  # 93
        with self.assertRaises(ScoringError) as caught:
            read_csv(b"a,b\n0.0,1.0\n\xff", MODEL_A)
        self.assertEqual(caught.exception.message, "Invalid input. Ensure that input is a valid "
                         "UTF-8 encoded string. Error: 'UnicodeDecodeError('utf-8', "
                         "b'a,b\\n0.0,1.0\\n\\xff', 12, 13, 'invalid start byte')'")
        self.assertIsNone(caught.exception.stack_trace)


class ParquetTest(unittest.TestCase):
    def test_parquet_round_trips_without_pre_cast(self) -> None:  # 79, 80
        buffer = io.BytesIO()
        pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_parquet(buffer)
        frame = read_parquet(buffer.getvalue())
        self.assertEqual((str(frame["a"].dtype), frame["b"].tolist()), ("int64", ["x", "y"]))

    def test_no_parquet_engine_is_415_naming_the_extra(self) -> None:
        with self.assertRaises(UnsupportedMediaType) as caught:
            read_parquet(b"PAR1", engines=("no_such_parquet_engine",))
        self.assertEqual(caught.exception.text, "Parquet input needs the 'parquet' extra: "
                         "pip install 'tinyserve[parquet]'")

    def test_unreadable_parquet_is_400_with_stack_trace(self) -> None:  # 96
        for body, tail in ((b"", "Parquet file size is 0 bytes'"),
                           (b'{"inputs": 1}', "Parquet magic bytes not found in footer. Either the "
                            "file is corrupted or this is not a parquet file.'")):
            with self.subTest(body=body):
                with self.assertRaises(ScoringError) as caught:
                    read_parquet(body)
                self.assertTrue(caught.exception.message.startswith(
                    "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid "
                    "Parquet Pandas DataFrame produced using the `pandas.DataFrame.to_parquet()` "
                    "method. Error: '"))
                self.assertTrue(caught.exception.message.endswith(tail))
                self.assertTrue(caught.exception.stack_trace)


if __name__ == "__main__":
    unittest.main()
