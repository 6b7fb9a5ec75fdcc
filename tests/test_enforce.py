"""Layer-B input enforcement (spec 7.2-7.4): reasons and results as MLflow 3.17.2 gives them.

Every expectation here was checked against ``mlflow.models.utils._enforce_schema`` /
``_enforce_type`` of MLflow 3.17.2 with pandas 3 and numpy 2.

Long because it is MLflow's enforcement table, one row per type pair, kept in one place.
"""
from __future__ import annotations

import datetime
import unittest

import numpy as np
import pandas as pd

from tinyserve.enforce import enforce_input, enforce_tensor
from tinyserve.errors import SchemaEnforcementError
from tinyserve.signature import (
    AnyType, Array, ColSpec, Map, Object, Property, Schema, TensorSpec, parse_schema,
)
from tinyserve.values import convert_column, enforce_value

AB = parse_schema('[{"type": "double", "name": "a", "required": true}, '
                  '{"type": "double", "name": "b", "required": true}]')
WITH_OPTIONAL = Schema([ColSpec("double", "a"), ColSpec("string", "note", required=False)])
UNNAMED = Schema([ColSpec("double"), ColSpec("long")])
PROMPT = Schema([ColSpec("string", "prompt")])
TENSOR = Schema([TensorSpec("float32", (-1, 2))])
NAMED_TENSORS = Schema([TensorSpec("float64", (-1, 2), "a"), TensorSpec("int64", (-1,), "b")])
PERSON = Object([Property("name", "string"), Property("age", "long", required=False)])
COMPLEX = Schema([ColSpec(Array("long"), "arr"), ColSpec(PERSON, "obj")])


def reason_of(data, schema) -> str:
    try:
        enforce_input(data, schema)
    except SchemaEnforcementError as error:
        return error.reason
    raise AssertionError("no SchemaEnforcementError")


def series(values, dtype=None) -> pd.Series:
    return pd.Series(values, dtype=dtype)


class WideningTableTest(unittest.TestCase):
    """Spec 7.3 table: source column dtype x target scalar type."""

    OK, NO = "ok", "no"
    # source dtype -> outcome for integer, long, float, double, boolean
    TABLE = {
        "int8": (OK, OK, NO, OK, NO),
        "int16": (OK, OK, NO, OK, NO),
        "int32": (OK, OK, NO, OK, NO),
        "int64": (NO, OK, NO, NO, NO),
        "uint8": (OK, OK, NO, OK, NO),
        "uint16": (OK, OK, NO, OK, NO),
        "uint32": (NO, OK, NO, OK, NO),
        "uint64": (NO, NO, NO, NO, NO),
        "float32": (NO, NO, OK, OK, NO),
        "float64": (NO, NO, NO, OK, NO),
        "bool": (NO, NO, NO, NO, OK),
    }
    TARGETS = ("integer", "long", "float", "double", "boolean")
    TARGET_DTYPE = {"integer": "int32", "long": "int64", "float": "float32", "double": "float64",
                    "boolean": "bool"}

    def test_every_row_of_the_widening_table(self):
        for source, outcomes in self.TABLE.items():
            values = [True, False] if source == "bool" else [2, 3]
            for target, outcome in zip(self.TARGETS, outcomes):
                with self.subTest(source=source, target=target):
                    frame = pd.DataFrame({"c": series(values, source)})
                    schema = Schema([ColSpec(target, "c")])
                    if outcome == self.OK:
                        result = enforce_input(frame, schema)
                        self.assertEqual(str(result["c"].dtype), self.TARGET_DTYPE[target])
                    else:
                        self.assertEqual(
                            reason_of(frame, schema),
                            f"Incompatible input types for column c. Can not safely convert "
                            f"{source} to {self.TARGET_DTYPE[target]}.",
                        )

    def test_int64_holding_only_zero_and_one_widens_to_float_and_double(self):
        for target, dtype in (("float", "float32"), ("double", "float64")):
            with self.subTest(target=target):
                frame = pd.DataFrame({"c": series([0, 1, 1], "int64")})
                result = enforce_input(frame, Schema([ColSpec(target, "c")]))
                self.assertEqual(str(result["c"].dtype), dtype)
                self.assertEqual(result["c"].tolist(), [0.0, 1.0, 1.0])

    def test_special_column_rules(self):
        cases = [
            # (label, column, target, expected dtype or reason)
            ("str column for string", series(["a", "b"]), "string", "str"),
            ("object column of ints for string", series([1, 2], object), "string", "object"),
            ("int column for string", series([1, 2]), "string",
             "Incompatible input types for column c. Can not safely convert int64 to <U0."),
            ("str column for binary", series(["a"]), "binary", "str"),
            ("bytes column for binary", series([b"a"], object), "binary", "object"),
            ("object column of ints inferred for long", series([1, 2], object), "long", "int64"),
            ("object column of bools with None for boolean", series([True, None], object),
             "boolean", "object"),
            ("object column of bools with None for double goes through to_numeric",
             series([True, None], object), "double", "float64"),
            ("datetime64[s] for datetime", series(np.array(["2024-01-02"], "datetime64[s]")),
             "datetime", "datetime64[ns]"),
            ("object dates for datetime", series([datetime.date(2024, 1, 2)], object),
             "datetime", "datetime64[ns]"),
            ("text for datetime", series(["2024-01-02"]), "datetime",
             "Incompatible input types for column c. Can not safely convert str to "
             "datetime64[ns]."),
            ("tz-aware for datetime", series(pd.to_datetime(["2024-01-02T03:04:05Z"])),
             "datetime",
             "Please ensure that the input data of datetime column only contains timezone-naive "
             "datetime objects. Error: Cannot use .astype to convert from timezone-aware dtype "
             "to timezone-naive dtype. Use obj.tz_localize(None) or "
             "obj.tz_convert('UTC').tz_localize(None) instead."),
            ("float with NaN and whole numbers for long", series([1.0, np.nan]), "long",
             "Incompatible input types for column c. Can not safely convert float64 to int64. "
             "Hint: the type mismatch is likely caused by missing values."),
            ("float with NaN and fractions for long", series([1.5, np.nan]), "long",
             "Incompatible input types for column c. Can not safely convert float64 to int64."),
            ("NaN then infinity for long (MLflow's int(inf) fails)", series([np.nan, np.inf]),
             "long", "cannot convert float infinity to integer"),
        ]
        for label, column, target, expected in cases:
            with self.subTest(label):
                frame = pd.DataFrame({"c": column})
                schema = Schema([ColSpec(target, "c")])
                if expected.startswith(("Incompatible", "Please", "cannot")):
                    reason = reason_of(frame, schema)
                    if expected.endswith("missing values."):
                        self.assertTrue(reason.startswith(expected), reason)
                    else:
                        self.assertEqual(reason, expected)
                else:
                    self.assertEqual(str(enforce_input(frame, schema)["c"].dtype), expected)

    def test_matching_dataframe_is_passed_through_without_a_copy(self):
        frame = pd.DataFrame({"a": [0.0, 5.0], "b": [1.0, 2.0]})
        self.assertIs(enforce_input(frame, AB), frame)

    def test_convert_column_leaves_an_exact_match_untouched(self):
        column = series([1.0, 2.0])
        self.assertIs(convert_column("x", column, "double"), column)


class NamedColumnsTest(unittest.TestCase):
    def test_missing_and_extra_column_reasons(self):
        cases = [
            ("one missing", pd.DataFrame({"a": [0.0]}), "Model is missing inputs ['b']."),
            ("integer columns", pd.DataFrame([[0.0, 1.0]]),
             "Model is missing inputs ['a', 'b']. Note that there were extra inputs: [0, 1]."),
            ("empty records", pd.DataFrame([]), "Model is missing inputs ['a', 'b']."),
            ("list of lists", [[0.0, 1.0]],
             "Model is missing inputs ['a', 'b']. Note that there were extra inputs: [0, 1]."),
            ("scalar", 1.0,
             "Model is missing inputs ['a', 'b']. Note that there were extra inputs: [0]."),
            ("unified LLM dict", {"messages": [{"role": "user", "content": "hi"}]},
             None),
        ]
        for label, data, expected in cases:
            with self.subTest(label):
                if expected is None:
                    self.assertEqual(
                        reason_of(data, PROMPT),
                        "Model is missing inputs ['prompt']. Note that there were extra inputs: "
                        "['messages'].",
                    )
                else:
                    self.assertEqual(reason_of(data, AB), expected)

    def test_columns_are_reordered_to_schema_order_extras_dropped_index_kept(self):
        frame = pd.DataFrame({"c": [9], "b": [1.0], "a": [0.0]}, index=[5])
        result = enforce_input(frame, AB)
        self.assertEqual(list(result.columns), ["a", "b"])
        self.assertEqual(list(result.index), [5])

    def test_optional_columns(self):
        absent = enforce_input(pd.DataFrame({"a": [1.0]}), WITH_OPTIONAL)
        self.assertEqual(list(absent.columns), ["a"])
        present = enforce_input(pd.DataFrame({"note": [None], "a": [1.0]}), WITH_OPTIONAL)
        self.assertEqual(list(present.columns), ["a", "note"])
        self.assertIsNone(present["note"][0])
        self.assertEqual(reason_of(pd.DataFrame({"note": ["x"]}), WITH_OPTIONAL),
                         "Model is missing inputs ['a'].")

    def test_input_shapes_become_dataframes(self):
        cases = [
            ("dict of scalars is one row", {"a": 1.0, "b": 2.0}, [[1.0, 2.0]]),
            ("dict of arrays is columns", {"a": np.array([0.0, 5.0]), "b": np.array([1.0, 2.0])},
             [[0.0, 1.0], [5.0, 2.0]]),
            ("list of records", [{"a": 0.0, "b": 1.0}], [[0.0, 1.0]]),
            ("dict of float lists is columns", {"a": [1.0, 2.0], "b": [3.0, 4.0]},
             [[1.0, 3.0], [2.0, 4.0]]),
        ]
        for label, data, rows in cases:
            with self.subTest(label):
                self.assertEqual(enforce_input(data, AB).values.tolist(), rows)

    def test_dict_input_failures(self):
        prefix = ("This model contains a column-based signature, which suggests a DataFrame input. "
                  "There was an error casting the input data to a DataFrame: ")
        cases = [
            ({"a": np.array([1.0]), "b": np.array([2.0, 3.0])},
             prefix + "All arrays must be of the same length"),
            ({"a": np.array(1.0), "b": np.array(2.0)},
             prefix + "If using all scalar values, you must pass an index"),
            ({"a": 1, "b": 2},
             "Incompatible input types for column b. Can not safely convert int64 to float64."),
            (None, "Expected input to be DataFrame. Found: NoneType"),
        ]
        for data, expected in cases:
            with self.subTest(data=repr(data)):
                self.assertEqual(reason_of(data, AB), expected)

    def test_string_dict_values_and_lists_of_strings_make_one_row(self):
        result = enforce_input({"prompt": ["hello", "x"]}, PROMPT)
        self.assertEqual(result.shape, (1, 1))
        self.assertEqual(result["prompt"][0], ["hello", "x"])
        self.assertEqual(enforce_input({"prompt": np.array("hi")}, PROMPT)["prompt"][0], "hi")

    def test_duplicate_column_names_fail_like_mlflow(self):
        frame = pd.DataFrame([[1.0, 2.0, 3.0]], columns=["a", "a", "b"])
        self.assertEqual(reason_of(frame, AB), "'DataFrame' object has no attribute 'dtype'")


class UnnamedColumnsTest(unittest.TestCase):
    def test_too_few_columns_reports_the_count(self):
        self.assertEqual(
            reason_of(pd.DataFrame([[1.0]]), UNNAMED),
            "Model inference is missing inputs. The model signature declares 2 inputs  but the "
            "provided value only has 1 inputs. Note: the inputs were not named in the signature "
            "so we can only verify their count.",
        )

    def test_extra_columns_dropped_and_names_kept(self):
        result = enforce_input(pd.DataFrame({"x": [1.0], "y": [2], "z": [3]}), UNNAMED)
        self.assertEqual(list(result.columns), ["x", "y"])

    def test_columns_are_checked_by_position(self):
        self.assertEqual(
            reason_of(pd.DataFrame([[1.0, 2.5]]), UNNAMED),
            "Incompatible input types for column 1. Can not safely convert float64 to int64.",
        )


class TensorTest(unittest.TestCase):
    def test_unnamed_tensor_cases(self):
        cases = [
            ("matching array", np.ones((2, 2), "float32"), (2, 2)),
            ("one column of lists is stacked and cast", pd.DataFrame({"a": [[1, 2], [3, 4]]}),
             (2, 2)),
            ("two float32 columns", pd.DataFrame({"a": np.ones(3, "float32"),
                                                  "b": np.ones(3, "float32")}), (3, 2)),
        ]
        for label, data, shape in cases:
            with self.subTest(label):
                result = enforce_input(data, TENSOR)
                self.assertEqual(result.shape, shape)
                self.assertEqual(result.dtype, np.float32)

    def test_unnamed_tensor_reasons(self):
        cases = [
            ("1-D array", np.array([1, 2], "float32"),
             "Shape of input (2,) does not match expected shape (-1, 2)."),
            ("wrong width", np.ones((1, 3), "float32"),
             "Shape of input (1, 3) does not match expected shape (-1, 2)."),
            ("wrong dtype", np.ones((1, 2), "float64"),
             "dtype of input float64 does not match expected dtype float32"),
            ("scalar column", pd.DataFrame({"a": [1.0, 2.0]}),
             "The input pandas dataframe column 'None' contains scalar values, which requires the "
             "shape to be (-1,) or (-1, 1), but got tensor spec shape of (-1, 2)."),
            ("three columns", pd.DataFrame({"a": [1.0], "b": [2.0], "c": [3.0]}),
             "This model contains a model signature with an unnamed input. Since the input data "
             "is a pandas DataFrame containing multiple columns, the input shape must be of the "
             "structure (-1, number_of_dataframe_columns). Instead, the input DataFrame passed "
             "had 3 columns and an input shape of (-1, 2) with all values within the DataFrame "
             "of scalar type. Please adjust the passed in DataFrame to match the expected "
             "structure"),
            ("empty frame", pd.DataFrame({"a": []}), "Input DataFrame is empty."),
            ("ragged lists", pd.DataFrame({"a": [[1, 2], [3]]}),
             "The value in the Input DataFrame column 'None' could not be converted to the "
             "expected shape of: '(-1, 2)'. Ensure that each of the input list elements are of "
             "uniform length and that the data can be coerced to the tensor type 'float32'"),
            ("list", [[1, 2]],
             "This model contains a tensor-based model signature with no input names, which "
             "suggests a numpy array input or a pandas dataframe input with proper column "
             "values, but an input of type <class 'list'> was found."),
        ]
        for label, data, expected in cases:
            with self.subTest(label):
                self.assertEqual(reason_of(data, TENSOR), expected)

    def test_scalar_column_reshaped_for_one_dimensional_specs(self):
        for shape in ((-1,), (-1, 1)):
            with self.subTest(shape=shape):
                result = enforce_input(pd.DataFrame({"a": [1.0, 2.0]}),
                                       Schema([TensorSpec("float32", shape)]))
                self.assertEqual(result.shape, (2,) if shape == (-1,) else (2, 1))

    def test_named_tensors(self):
        good = {"a": np.ones((2, 2)), "b": np.array([1, 2]), "extra": np.array(1)}
        self.assertEqual(sorted(enforce_input(good, NAMED_TENSORS)), ["a", "b"])
        frame = enforce_input(pd.DataFrame({"a": [[1.0, 2.0]], "b": [1]}), NAMED_TENSORS)
        self.assertEqual(frame["a"].shape, (1, 2))
        cases = [
            ({"a": np.ones((2, 2))}, "Model is missing inputs ['b']."),
            ({"a": [[1.0, 2.0]], "b": np.array([1])},
             "This model contains a tensor-based model signature with input names, which "
             "suggests a dictionary input mapping input name to a numpy array, but a dict with "
             "value type <class 'list'> was found."),
            ({"a": np.ones((2, 2)), "b": np.array([1], "int32")},
             "dtype of input int32 does not match expected dtype int64"),
        ]
        for data, expected in cases:
            with self.subTest(expected=expected):
                self.assertEqual(reason_of(data, NAMED_TENSORS), expected)

    def test_bare_array_matches_a_single_named_tensor(self):
        schema = Schema([TensorSpec("float64", (-1, 2), "a")])
        self.assertEqual(list(enforce_input(np.ones((1, 2)), schema)), ["a"])

    def test_ragged_object_arrays_pass_open_shapes(self):
        ragged = np.array([[1], [2, 3]], dtype=object)
        for spec in (TensorSpec("object", (-1,)), TensorSpec("float64", (-1, -1))):
            with self.subTest(spec=repr(spec)):
                self.assertIs(enforce_tensor(ragged, spec), ragged)


class ValueRulesTest(unittest.TestCase):
    """Spec 7.4 per-value rules (enforce_value) and their reasons."""

    def test_reasons(self):
        cases = [
            ([1.5, 2], Array("long"), True,
             "Incompatible input types for column . Can not safely convert float64 to int64."),
            (["1", "2"], Array("long"), True,
             "Incompatible input types for column . Can not safely convert str to int64."),
            (3, Array("long"), True, "Expected data to be list or numpy array, got int"),
            (None, Array("long"), True, "Expected data to be list or numpy array, got NoneType"),
            ("x", PERSON, True,
             "Failed to enforce schema of 'x' with type '{age: long (optional), name: string "
             "(required)}'. Expected data to be dictionary, got str"),
            ({"age": 3}, PERSON, True, "Missing required properties: {'name'}"),
            ({"name": "a", "zzz": 1}, PERSON, True,
             "Invalid properties not defined in the schema found: {'zzz'}"),
            ({"name": 5}, PERSON, True,
             "Failed to enforce schema for key `name`. Expected type string, received type int"),
            ({"k": "v"}, Map("double"), True,
             "Failed to enforce schema of data `v` with dtype `double`"),
            ({"k": 3}, Map("double"), True,  # only 0/1 ints widen to double
             "Failed to enforce schema of data `3` with dtype `double`"),
            ([1, 2], Array("double"), True,
             "Incompatible input types for column . Can not safely convert int64 to float64."),
            ({"x": 3}, Object([Property("x", "double")]), True,
             "Failed to enforce schema for key `x`. Expected type double, received type int"),
            ([1], Map("double"), True, "Expected data to be a dict, got list"),
            ({1: 1.0}, Map("double"), True,
             "Expected all keys in the map type data are string type."),
            ({"k": None}, Map("double"), True, "Expected data to be scalar, got NoneType"),
        ]
        for value, value_type, required, expected in cases:
            with self.subTest(value=repr(value), type=repr(value_type)):
                with self.assertRaises(SchemaEnforcementError) as caught:
                    enforce_value(value, value_type, required)
                self.assertEqual(caught.exception.reason, expected)

    def test_accepted_values_and_their_conversion(self):
        cases = [
            ([1, 2], Array("long"), True, [1, 2]),
            ([], Array("long"), True, []),
            (None, Array("long"), False, None),
            (None, Array(AnyType()), True, None),
            ({"name": "a", "age": 3}, PERSON, True, {"name": "a", "age": np.int64(3)}),
            ({"name": "a", "age": None}, PERSON, True, {"name": "a", "age": None}),
            (None, PERSON, False, None),
            ({}, PERSON, False, {}),
            ({"k": 1}, Map("double"), True, {"k": np.float64(1.0)}),
            ([0, 1], Array("double"), True, [0.0, 1.0]),
            ({"x": [1, {"y": None}]}, AnyType(), True, {"x": [1, {"y": None}]}),
            ([[1, 2], [3]], Array(Array("long")), True, [[1, 2], [3]]),
        ]
        for value, value_type, required, expected in cases:
            with self.subTest(value=repr(value), type=repr(value_type)):
                result = enforce_value(value, value_type, required)
                self.assertEqual(result, expected)
                self.assertEqual(repr(result), repr(expected))

    def test_ndarray_in_gives_ndarray_out(self):
        result = enforce_value(np.array([1, 2]), Array("long"))
        self.assertIsInstance(result, np.ndarray)
        self.assertEqual(result.dtype, np.int64)

    def test_complex_columns_checked_cell_by_cell(self):
        frame = pd.DataFrame({"arr": [[1, 2]], "obj": [{"name": "a", "age": 3}]})
        result = enforce_input(frame, COMPLEX)
        self.assertEqual(result["arr"][0], [1, 2])
        self.assertEqual(
            reason_of(pd.DataFrame({"arr": [[1.5]], "obj": [{"name": "a"}]}), COMPLEX),
            "Incompatible input types for column . Can not safely convert float64 to int64.",
        )

    def test_inputs_object_form_with_array_column_is_one_row(self):
        result = enforce_input({"arr": [1, 2], "obj": {"name": "a"}}, COMPLEX)
        self.assertEqual(result.shape, (1, 2))
        self.assertEqual(
            reason_of({"arr": [[1, 2]], "obj": {"name": "a"}}, COMPLEX),
            "Incompatible input types for column . Can not safely convert object to int64.",
        )


if __name__ == "__main__":
    unittest.main()
