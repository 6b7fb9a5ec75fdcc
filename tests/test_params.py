"""Params enforcement (spec 8, checklist 97-105), as MLflow 3.17.2's ``_enforce_params_schema``.

Expected values and messages were checked against MLflow 3.17.2.
"""
from __future__ import annotations

import ast
import datetime
import json
import unittest

from tinyserve.errors import ParamsError
from tinyserve.params import enforce_params
from tinyserve.signature import parse_param_schema

# Model P of the spec's checklist, plus integer/float/object params.
SCHEMA = parse_param_schema(json.dumps([
    {"name": "kind", "default": None, "shape": None, "type": "string"},
    {"name": "temperature", "default": 0.5, "shape": None, "type": "double"},
    {"name": "max_tokens", "default": 16, "shape": None, "type": "long"},
    {"name": "flag", "default": False, "shape": None, "type": "boolean"},
    {"name": "when", "default": "2024-01-02", "shape": None, "type": "datetime"},
    {"name": "ids", "default": [1, 2], "shape": [-1], "type": "long"},
    {"name": "n32", "default": 1, "shape": None, "type": "integer"},
    {"name": "f32", "default": 1.0, "shape": None, "type": "float"},
    {"name": "cfg", "default": {"a": 1}, "shape": None, "type": "object",
     "properties": {"a": {"type": "long", "required": True}}},
]))
DEFAULTS = {"kind": None, "temperature": 0.5, "max_tokens": 16, "flag": False,
            "when": datetime.date(2024, 1, 2), "ids": [1, 2], "n32": 1, "f32": 1.0,
            "cfg": {"a": 1}}
SPEC_REPR = {
    "kind": "'kind': string (default: None)",
    "temperature": "'temperature': double (default: 0.5)",
    "max_tokens": "'max_tokens': long (default: 16)",
    "flag": "'flag': boolean (default: False)",
    "when": "'when': datetime (default: 2024-01-02)",
    "ids": "'ids': long (default: [1, 2]) (shape: (-1,))",
    "n32": "'n32': integer (default: 1)",
    "f32": "'f32': float (default: 1.0)",
    "cfg": "'cfg': {a: long (required)} (default: {'a': 1})",
}


def invalid_params(params) -> set:
    """The (name, message) set of an ``Invalid parameters found: {...}`` error."""
    with_schema = SCHEMA
    try:
        enforce_params(params, with_schema)
    except ParamsError as error:
        prefix = "Invalid parameters found: "
        assert error.message.startswith(prefix), error.message
        return ast.literal_eval(error.message[len(prefix):])
    raise AssertionError("no ParamsError")


def wrapped(name: str, detail: str) -> tuple:
    return (name, f"Failed to validate type and shape for {SPEC_REPR[name]}, error: {detail}")


class AcceptedParamsTest(unittest.TestCase):
    def test_accepted_values_and_what_the_model_receives(self):
        cases = [
            ("temperature", 1, 1.0),                      # 97: int widened to float
            ("temperature", 1.5, 1.5),
            ("temperature", None, None),                  # 103: null kept, not the default
            ("max_tokens", 2 ** 70, 2 ** 70),             # no range check
            ("n32", 2 ** 40, 2 ** 40),
            ("f32", 3, 3.0),
            ("kind", "", ""),
            ("flag", True, True),
            ("when", "2024-05-06", datetime.date(2024, 5, 6)),   # 101
            ("when", "2024-05-06T03:04:05", datetime.datetime(2024, 5, 6, 3, 4, 5)),
            ("when", "2024-05-06 03:04", datetime.datetime(2024, 5, 6, 3, 4)),
            ("when", "2024", datetime.date(2024, 1, 1)),
            ("when", "NaT", None),
            ("ids", [], []),                              # 102
            ("ids", [3, None], [3, None]),
            ("cfg", {"a": 2}, {"a": 2}),
        ]
        for name, value, expected in cases:
            with self.subTest(name=name, value=value):
                result = enforce_params({name: value}, SCHEMA)
                self.assertEqual(result[name], expected)
                self.assertIs(type(result[name]), type(expected))

    def test_result_has_provided_keys_first_then_defaults_in_schema_order(self):
        result = enforce_params({"flag": True, "zzz": 1, "temperature": 1}, SCHEMA)   # 104
        self.assertEqual(list(result), ["flag", "temperature", "kind", "max_tokens", "when",
                                        "ids", "n32", "f32", "cfg"])
        self.assertNotIn("zzz", result)

    def test_absent_or_null_params_give_all_defaults(self):
        for params in (None, {}):
            with self.subTest(params=params):
                self.assertEqual(enforce_params(params, SCHEMA), DEFAULTS)

    def test_object_param_gets_the_original_json_value(self):
        value = {"a": 2}
        self.assertIs(enforce_params({"cfg": value}, SCHEMA)["cfg"], value)


class RejectedParamsTest(unittest.TestCase):
    def test_scalar_rule_messages(self):
        cases = [
            ("max_tokens", 3.0, "Can not safely convert `<class 'float'>` to `DataType.long` "
                                "for value `3.0`"),                               # 98
            ("max_tokens", "3", "Can not safely convert `<class 'str'>` to `DataType.long` "
                                "for value `3`"),
            ("max_tokens", True, "Can not safely convert `<class 'bool'>` to `DataType.long` "
                                 "for value `True`"),
            ("flag", 1, "Can not safely convert `<class 'int'>` to `DataType.boolean` "
                        "for value `1`"),                                        # 99
            ("flag", "true", "Can not safely convert `<class 'str'>` to `DataType.boolean` "
                             "for value `true`"),
            ("temperature", [1.0], "Value must be a scalar for type `DataType.double`, "
                                   "got `[1.0]`"),                               # 100
            ("temperature", "2.5", "Can not safely convert `<class 'str'>` to `DataType.double` "
                                   "for value `2.5`"),
            ("temperature", True, "Can not safely convert `<class 'bool'>` to "
                                  "`DataType.double` for value `True`"),
            ("kind", 1, "Can not safely convert `<class 'int'>` to `DataType.string` "
                        "for value `1`"),
            ("n32", 3.0, "Can not safely convert `<class 'float'>` to `DataType.integer` "
                         "for value `3.0`"),
            ("when", 12345, "Failed to convert value `12345` from type `<class 'int'>` to "
                            "`DataType.datetime`"),                              # 101
            ("when", "nope", "Failed to convert value `nope` from type `<class 'str'>` to "
                             "`DataType.datetime`"),
            ("when", "2024-05-06T03:04:05.123456789",
             "Failed to convert value to `DataType.datetime`. It must be convertible to "
             "datetime.date/datetime, got `2024-05-06T03:04:05.123456789`"),
            ("ids", [1.5], "Can not safely convert `<class 'float'>` to `DataType.long` "
                           "for value `1.5`"),
            ("cfg", {"b": 1}, "Missing required properties: {'a'}"),
            ("cfg", None, "Failed to enforce schema of 'None' with type '{a: long (required)}'. "
                          "Expected data to be dictionary, got NoneType"),
            ("cfg", {"a": "x"}, "Failed to enforce schema for key `a`. Expected type long, "
                                "received type str"),
        ]
        for name, value, detail in cases:
            with self.subTest(name=name, value=value):
                self.assertEqual(invalid_params({name: value}), {wrapped(name, detail)})

    def test_one_dimensional_shape_messages(self):
        prefix = ("Value must be a 1D array with shape (-1,) for param 'ids': long "
                  "(default: [1, 2]) (shape: (-1,)), received ")
        cases = [(5, "int with ndim 0"), ([[1]], "list with ndim 2"), ("ab", "str with ndim 0"),
                 (None, "NoneType with ndim 0"), ({"a": 1}, "dict with ndim 0")]
        for value, received in cases:
            with self.subTest(value=value):
                self.assertEqual(invalid_params({"ids": value}), {("ids", prefix + received)})

    def test_errors_for_several_params_are_reported_together(self):
        errors = invalid_params({"ids": 5, "flag": 1, "temperature": "hot", "kind": "ok"})
        self.assertEqual({name for name, _ in errors}, {"ids", "flag", "temperature"})

    def test_params_that_are_not_an_object_are_rejected(self):
        for params, type_name in (([1, 2], "list"), ("x", "str"), (5, "int"), ([], "list")):
            with self.subTest(params=params):
                with self.assertRaises(ParamsError) as caught:
                    enforce_params(params, SCHEMA)
                self.assertEqual(caught.exception.message,
                                 f"Parameters must be a dictionary. Got type '{type_name}'.")

    def test_ragged_list_escapes_as_numpy_error_like_mlflow(self):
        with self.assertRaises(ValueError) as caught:
            enforce_params({"ids": [[1], [2, 3]]}, SCHEMA)
        self.assertNotIsInstance(caught.exception, ParamsError)


class NoParamsSchemaTest(unittest.TestCase):
    def test_none_and_empty_kept_anything_else_becomes_empty_with_a_warning(self):
        cases = [(None, None, False), ({}, {}, False), ({"x": 1}, {}, True), ([1, 2], {}, True),
                 ("s", {}, True), (0, {}, True)]
        for params, expected, warns in cases:
            with self.subTest(params=params):
                if warns:
                    with self.assertLogs("tinyserve", "WARNING"):
                        result = enforce_params(params, None)
                else:
                    result = enforce_params(params, None)
                self.assertEqual(result, expected)
                self.assertIs(type(result), type(expected))


if __name__ == "__main__":
    unittest.main()
