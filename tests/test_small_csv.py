"""The small-CSV reader gives exactly what ``pandas.read_csv`` gives, or steps aside."""
from __future__ import annotations

import io
import json
import unittest

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyserve.signature import parse_schema
from tinyserve.small_csv import MAX_BYTES, MAX_FIELDS, read_small_csv
from tinyserve.tables import _csv_dtypes, object_labels, read_csv

KINDS = {"a": "double", "b": "long", "c": "double"}
SCHEMA = parse_schema(json.dumps([{"type": kind, "name": name} for name, kind in KINDS.items()]))


def by_pandas(body: bytes) -> pd.DataFrame:
    return object_labels(pd.read_csv(io.BytesIO(body), dtype=_csv_dtypes(SCHEMA)))


def assert_same(test: unittest.TestCase, body: bytes) -> None:
    fast = read_small_csv(body, SCHEMA)
    test.assertIsNotNone(fast, body)
    expected = by_pandas(body)
    pd.testing.assert_frame_equal(fast, expected, check_exact=True)
    test.assertEqual(fast.columns.dtype, expected.columns.dtype)
    for name in fast.columns:  # bit for bit, so -0.0 and 0.0 are told apart
        test.assertEqual(fast[name].to_numpy().tobytes(), expected[name].to_numpy().tobytes())


digits = st.text("0123456789", min_size=1, max_size=8)
doubles = st.builds(lambda sign, whole, frac: sign + whole + ("." + frac if frac else ""),
                    st.sampled_from(["", "-"]), digits,
                    st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=7)))
longs = st.builds(lambda sign, whole: sign + whole, st.sampled_from(["", "-"]),
                  st.text("0123456789", min_size=1, max_size=18))
rows = st.lists(st.tuples(doubles, longs, doubles), min_size=1, max_size=100)


class SmallCsvTest(unittest.TestCase):
    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(rows, st.permutations(list(KINDS)), st.booleans())
    def test_generated_bodies_read_the_same_as_pandas(self, values, order, final_newline):
        lines = [",".join(order)]
        for row in values:
            by_name = dict(zip(KINDS, row))
            lines.append(",".join(by_name[name] for name in order))
        body = "\n".join(lines).encode() + (b"\n" if final_newline else b"")
        assert_same(self, body)

    def test_edge_values_read_the_same_as_pandas(self):
        for row in ("-0,0,-0.0", "007.50,-000,0.00000000000001", "999999999999999,"
                    "999999999999999999,-99999999999999.9", "0.1,-1,123456789.012345"):
            with self.subTest(row=row):
                assert_same(self, f"a,b,c\n{row}\n".encode())

    def test_bodies_outside_the_plain_case_are_left_to_pandas(self):
        cases = {
            "quoted field": b'a,b,c\n"1.5",2,3\n',
            "blank line": b"a,b,c\n1,2,3\n\n4,5,6\n",
            "CRLF": b"a,b,c\r\n1,2,3\r\n",
            "exponent": b"a,b,c\n1e5,2,3\n",
            "16 digits": b"a,b,c\n1234567890.123456,2,3\n",
            "19-digit long": b"a,b,c\n1,1234567890123456789,3\n",
            "decimal in a long column": b"a,b,c\n1,2.0,3\n",
            "missing value": b"a,b,c\n1,,3\n",
            "short row": b"a,b,c\n1,2\n",
            "long row": b"a,b,c\n1,2,3,4\n",
            "plus sign": b"a,b,c\n+1,2,3\n",
            "bare point": b"a,b,c\n.5,2,3\n",
            "space": b"a,b,c\n1, 2,3\n",
            "nan": b"a,b,c\nnan,2,3\n",
            "header only": b"a,b,c\n",
            "a column missing": b"a,b\n1,2\n",
            "an extra column": b"a,b,c,d\n1,2,3,4\n",
            "duplicate name": b"a,b,c,c\n1,2,3,4\n",
            "non-ASCII": "a,b,c\n1,2,3\u00e9\n".encode(),
            "too many bytes": b"a,b,c\n" + b"1,2,3" + b"0" * MAX_BYTES + b"\n",
            "too many fields": b"a,b,c\n" + b"1,2,3\n" * (MAX_FIELDS // 3 + 1),
        }
        for name, body in cases.items():
            with self.subTest(name):
                self.assertIsNone(read_small_csv(body, SCHEMA))

    def test_other_schemas_are_left_to_pandas(self):
        for spec in ([{"type": "string", "name": "a"}], [{"type": "float", "name": "a"}],
                     [{"type": "integer", "name": "a"}]):
            with self.subTest(spec=spec):
                self.assertIsNone(read_small_csv(b"a\n1\n", parse_schema(json.dumps(spec))))
        self.assertIsNone(read_small_csv(b"a\n1\n", None))

    def test_read_csv_gives_the_pandas_frame_either_way(self):
        for body in (b"a,b,c\n1.5,2,3\n", b"a,b,c\n1e5,2,3\n"):
            with self.subTest(body=body):
                pd.testing.assert_frame_equal(read_csv(body, SCHEMA), by_pandas(body),
                                              check_exact=True)


if __name__ == "__main__":
    unittest.main()
