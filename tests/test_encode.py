"""Tests for tinyserve.encode: MLflow's response bytes, except that NaN/±Infinity become null."""
from __future__ import annotations

import datetime
import decimal
import json
import unittest

import numpy as np
import pandas as pd

from tinyserve.encode import encode_predictions

NAN = float("nan")
INF = float("inf")


def body(predictions, wrap=True) -> str:
    return encode_predictions(predictions, wrap=wrap).decode("ascii")


# Spec 9.3, row by row; NaN/Infinity/-Infinity written as null (tinyserve's deliberate difference).
SPEC_TABLE = [
    ("DataFrame with None and NaN",
     lambda: pd.DataFrame({"a": [1, 2], "b": ["x", None], "c": [1.5, NAN]}),
     '{"predictions": [{"a": 1, "b": "x", "c": 1.5}, {"a": 2, "b": null, "c": null}]}'),
    ("DataFrame with Timestamps",
     lambda: pd.DataFrame({"t": pd.to_datetime(["2024-01-02 00:00:00", "2024-01-03 04:05:06"]), "n": [1, 2]}),
     '{"predictions": [{"t": "2024-01-02T00:00:00", "n": 1}, {"t": "2024-01-03T04:05:06", "n": 2}]}'),
    ("named Series", lambda: pd.Series([1, 2, 3], name="s"),
     '{"predictions": [{"s": 1}, {"s": 2}, {"s": 3}]}'),
    ("unnamed Series", lambda: pd.Series([1.5, 2.5]), '{"predictions": [{"0": 1.5}, {"0": 2.5}]}'),
    ("int array", lambda: np.array([1, 2, 3]), '{"predictions": [1, 2, 3]}'),
    ("float32 matrix", lambda: np.array([[1.0, 2.0], [3.0, 4.0]], np.float32),
     '{"predictions": [[1.0, 2.0], [3.0, 4.0]]}'),
    ("non-finite array", lambda: np.array([1.0, NAN, INF, -INF]), '{"predictions": [1.0, null, null, null]}'),
    ("bool array", lambda: np.array([True, False]), '{"predictions": [true, false]}'),
    ("datetime64[ns] array",
     lambda: np.array(["2024-01-02T03:04:05", "2024-02-03"], dtype="datetime64[ns]"),
     '{"predictions": [1704164645000000000, 1706918400000000000]}'),
    ("datetime64[s] array", lambda: np.array(["2024-01-02T03:04:05"], dtype="datetime64[s]"),
     '{"predictions": ["2024-01-02T03:04:05"]}'),
    ("bytes array", lambda: np.array([b"ab", b"cde"]), '{"predictions": ["YWI=\\n", "Y2Rl\\n"]}'),
    ("object array", lambda: np.array([1, "a", None, np.int64(5), b"xy"], dtype=object),
     '{"predictions": [1, "a", null, 5, "eHk=\\n"]}'),
    ("list", lambda: [1, "two", 3.0, None, True], '{"predictions": [1, "two", 3.0, null, true]}'),
    ("dict with array and NaN", lambda: {"x": np.array([1, 2]), "y": "z", "n": NAN},
     '{"predictions": {"x": [1, 2], "y": "z", "n": null}}'),
    ("int", lambda: 42, '{"predictions": 42}'),
    ("numpy int32", lambda: np.int32(7), '{"predictions": 7}'),
    ("str", lambda: "hello", '{"predictions": "hello"}'),
    ("None", lambda: None, '{"predictions": null}'),
    ("NaN", lambda: NAN, '{"predictions": null}'),
    ("bytes", lambda: b"\x00\x01hello", '{"predictions": "AAFoZWxsbw==\\n"}'),
    ("datetime", lambda: datetime.datetime(2024, 1, 2, 3, 4, 5), '{"predictions": "2024-01-02T03:04:05"}'),
    ("Timestamp", lambda: pd.Timestamp("2024-01-02 03:04:05"), '{"predictions": "2024-01-02T03:04:05"}'),
    ("tuple", lambda: (1, 2), '{"predictions": [1, 2]}'),
]

MORE_CONVERSIONS = [
    ("date", lambda: datetime.date(2024, 1, 2), '{"predictions": "2024-01-02"}'),
    ("time", lambda: datetime.time(1, 2, 3), '{"predictions": "01:02:03"}'),
    ("tz-aware Timestamp", lambda: pd.Timestamp("2024-01-02", tz="UTC"),
     '{"predictions": "2024-01-02T00:00:00+00:00"}'),
    ("tz-aware datetime column", lambda: pd.DataFrame({"t": pd.to_datetime(["2024-01-02"]).tz_localize("UTC")}),
     '{"predictions": [{"t": "2024-01-02T00:00:00+00:00"}]}'),
    ("NaT in DataFrame", lambda: pd.DataFrame({"t": pd.to_datetime(["2024-01-02", None])}),
     '{"predictions": [{"t": "2024-01-02T00:00:00"}, {"t": "NaT"}]}'),
    ("Int64 <NA>", lambda: pd.DataFrame({"a": pd.array([1, None], dtype="Int64")}),
     '{"predictions": [{"a": 1}, {"a": null}]}'),
    ("Float64 <NA>", lambda: pd.DataFrame({"a": pd.array([1.5, None], dtype="Float64")}),
     '{"predictions": [{"a": 1.5}, {"a": null}]}'),
    ("categorical", lambda: pd.DataFrame({"a": pd.Categorical(["x", "y", None])}),
     '{"predictions": [{"a": "x"}, {"a": "y"}, {"a": null}]}'),
    ("pandas str column with missing value", lambda: pd.DataFrame({"a": pd.Series(["x", None], dtype="str")}),
     '{"predictions": [{"a": "x"}, {"a": null}]}'),
    ("object column of numpy scalars", lambda: pd.DataFrame({"a": pd.Series([np.float32(1.1), np.int8(3), INF], dtype=object)}),
     '{"predictions": [{"a": 1.100000023841858}, {"a": 3}, {"a": null}]}'),
    ("float32 column with infinities", lambda: pd.DataFrame({"a": [INF, -INF, 0.5]}, dtype="float32"),
     '{"predictions": [{"a": null}, {"a": null}, {"a": 0.5}]}'),
    ("float32 scalar widened", lambda: np.float32(1.1), '{"predictions": 1.100000023841858}'),
    ("float32 NaN scalar", lambda: [np.float32("nan"), np.float64("-inf")], '{"predictions": [null, null]}'),
    ("big int", lambda: 2 ** 70, '{"predictions": 1180591620717411303424}'),
    ("uint64 max", lambda: np.array([2 ** 64 - 1], dtype=np.uint64), '{"predictions": [18446744073709551615]}'),
    ("non-ASCII escaped", lambda: "\u00e9\U0001f600", '{"predictions": "\\u00e9\\ud83d\\ude00"}'),
    ("nested ndarray in list and dict", lambda: [{"m": np.array([[1.5, NAN]])}, np.array([b"ab"])],
     '{"predictions": [{"m": [[1.5, null]]}, ["YWI=\\n"]]}'),
    ("2-D object array", lambda: [np.array([[1, b"x"], [None, 2.5]], dtype=object)],
     '{"predictions": [[[1, "eA==\\n"], [null, 2.5]]]}'),
    ("numpy datetime64 scalars", lambda: [np.datetime64("2024-01-02T03:04:05", "ns"), np.datetime64("2024-01-02T03:04:05", "s")],
     '{"predictions": [1704164645000000000, "2024-01-02T03:04:05"]}'),
    ("numpy bool and str", lambda: [np.bool_(True), np.str_("\u00e9")], '{"predictions": [true, "\\u00e9"]}'),
    ("DataFrame index dropped", lambda: pd.DataFrame({"a": [1]}, index=["r"]), '{"predictions": [{"a": 1}]}'),
    ("column called predictions nests", lambda: pd.DataFrame({"predictions": [1]}),
     '{"predictions": [{"predictions": 1}]}'),
    ("numeric column labels", lambda: pd.DataFrame({0: [1], 1.5: [2]}), '{"predictions": [{"0.0": 1, "1.5": 2}]}'),
    ("duplicate columns keep the last value", lambda: pd.DataFrame([[1, 2]], columns=["a", "a"]),
     '{"predictions": [{"a": 2}]}'),
    ("mixed numeric dtypes", lambda: pd.DataFrame({"i": [1], "b": [True], "f": np.array([0.25], np.float16)}),
     '{"predictions": [{"i": 1, "b": true, "f": 0.25}]}'),
    ("empty DataFrame", lambda: pd.DataFrame({"a": []}), '{"predictions": []}'),
    ("DataFrame without columns", lambda: pd.DataFrame(index=[0, 1]), '{"predictions": [{}, {}]}'),
    ("column label with percent sign", lambda: pd.DataFrame({"50%": [1.0]}), '{"predictions": [{"50%": 1.0}]}'),
    ("empty bytes array nested", lambda: {"x": np.array([], dtype="S1")}, '{"predictions": {"x": []}}'),
]

# Dict keys: json's rules (bool/None/int/float keys become strings; a non-finite float key keeps
# Python's spelling because keys are strings anyway).
DICT_KEY_CASES = [
    ("int key", {1: "a"}, '{"predictions": {"1": "a"}}'),
    ("float key", {2.5: "b"}, '{"predictions": {"2.5": "b"}}'),
    ("bool key", {True: "c"}, '{"predictions": {"true": "c"}}'),
    ("None key", {None: "d"}, '{"predictions": {"null": "d"}}'),
    ("numpy float key", {np.float64(1.5): 2}, '{"predictions": {"1.5": 2}}'),
    ("NaN key with NaN value", {NAN: NAN}, '{"predictions": {"NaN": null}}'),
]

UNSERIALIZABLE = [
    ("set", lambda: {1, 2}, "set"),
    ("frozenset", lambda: frozenset([1]), "frozenset"),
    ("generator", lambda: (i for i in range(2)), "generator"),
    ("Decimal", lambda: decimal.Decimal("1.5"), "Decimal"),
    ("timedelta", lambda: datetime.timedelta(seconds=1), "timedelta"),
    ("timedelta64[s] array", lambda: np.array([1], dtype="timedelta64[s]"), "timedelta"),
    ("Timedelta column", lambda: pd.DataFrame({"t": pd.to_timedelta([1], unit="s")}), "Timedelta"),
    ("complex", lambda: 1j, "complex"),
    ("complex column", lambda: pd.DataFrame({"c": [1j]}), "complex"),
    ("longdouble", lambda: np.longdouble(1.5), "longdouble"),
    ("DataFrame nested in a list", lambda: [pd.DataFrame({"a": [1]})], "DataFrame"),
    ("Series nested in a dict", lambda: {"s": pd.Series([1])}, "Series"),
    ("pandas NA scalar", lambda: pd.NA, "NAType"),
    ("set after a NaN", lambda: [NAN, {1}], "set"),
    ("tuple dict key", lambda: {(1, 2): 3}, "tuple"),
    ("numpy int dict key", lambda: {np.int64(1): 3}, "int64"),
    ("MultiIndex columns", lambda: pd.DataFrame([[1]], columns=pd.MultiIndex.from_tuples([("a", "b")])), "tuple"),
]


class ConversionTest(unittest.TestCase):
    def test_spec_table_rows_with_non_finite_as_null(self):
        for name, make, expected in SPEC_TABLE:
            with self.subTest(name):
                self.assertEqual(body(make()), expected)

    def test_further_conversions(self):
        for name, make, expected in MORE_CONVERSIONS:
            with self.subTest(name):
                self.assertEqual(body(make()), expected)

    def test_dict_keys_follow_json_key_rules(self):
        for name, value, expected in DICT_KEY_CASES:
            with self.subTest(name):
                self.assertEqual(body(value), expected)

    def test_every_body_is_strict_json(self):
        def refuse(constant):
            raise AssertionError(f"non-standard JSON constant {constant}")

        for name, make, _ in SPEC_TABLE + MORE_CONVERSIONS:
            with self.subTest(name):
                json.loads(body(make()), parse_constant=refuse)

    def test_long_bytes_are_mime_base64_with_a_newline_every_76_characters(self):
        text = json.loads(body(bytearray(b"x" * 100)))["predictions"]
        lines = text.split("\n")
        self.assertEqual([len(line) for line in lines], [76, 60, 0])
        self.assertEqual(text, "eHh4" * 19 + "\n" + "eHh4" * 14 + "eA==\n")

    def test_large_float_frame_with_missing_values_matches_the_record_rule(self):
        frame = pd.DataFrame({"a": np.arange(1000, dtype=float), "b": np.arange(1000)})
        frame.loc[::7, "a"] = NAN
        expected = [{"a": None if i % 7 == 0 else float(i), "b": i} for i in range(1000)]
        self.assertEqual(json.loads(body(frame))["predictions"], expected)

    def test_circular_structure_raises_type_error(self):
        looped: list = [NAN]
        looped.append(looped)
        with self.assertRaisesRegex(TypeError, "Circular reference"):
            encode_predictions(looped)


class UnwrappedTest(unittest.TestCase):
    def test_unified_llm_body_is_the_converted_value_alone(self):
        frame = pd.DataFrame({"a": [1, 2], "b": ["x", None], "c": [1.5, NAN]})
        self.assertEqual(body(frame, wrap=False), '[{"a": 1, "b": "x", "c": 1.5}, {"a": 2, "b": null, "c": null}]')

    def test_unwrapped_numeric_frame_and_scalar(self):
        cases = [
            (pd.DataFrame({"x": [0.5, INF]}), '[{"x": 0.5}, {"x": null}]'),
            ({"choices": [{"message": "hi"}]}, '{"choices": [{"message": "hi"}]}'),
            (NAN, "null"),
        ]
        for value, expected in cases:
            with self.subTest(expected=expected):
                self.assertEqual(body(value, wrap=False), expected)

    def test_body_is_bytes_without_trailing_newline(self):
        encoded = encode_predictions([1])
        self.assertIsInstance(encoded, bytes)
        self.assertEqual(encoded, b'{"predictions": [1]}')


class UnserializableTest(unittest.TestCase):
    def test_unserializable_values_raise_type_error_naming_the_type(self):
        for name, make, type_name in UNSERIALIZABLE:
            with self.subTest(name):
                with self.assertRaises(TypeError) as caught:
                    encode_predictions(make())
                self.assertIn(type_name, str(caught.exception))

    def test_message_matches_json_wording(self):
        with self.assertRaises(TypeError) as caught:
            encode_predictions({"a": {1, 2}})
        self.assertEqual(str(caught.exception), "Object of type set is not JSON serializable")


if __name__ == "__main__":
    unittest.main()
