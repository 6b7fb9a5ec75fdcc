"""Request bodies are data: a Parquet body carrying a pickle is never unpickled.

JSON bodies go through ``json``, CSV through ``pandas.read_csv``; neither can run code. Parquet
goes through pyarrow, whose versions 0.15 to 14.0.0 unpickled the metadata of a column typed
``arrow.py_extension_type`` (CVE-2023-47248); tinyserve unregisters that type before reading.
"""
from __future__ import annotations

import io
import os
import pickle
import tempfile
import unittest

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError:  # the parquet extra is optional
    pa = None

PICKLED_TYPE = "arrow.py_extension_type"


class Trap:
    """Unpickling this creates ``path``: proof that something unpickled it."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def parquet_with_pickle(marker: str) -> bytes:
    metadata = {b"ARROW:extension:name": PICKLED_TYPE.encode(),
                b"ARROW:extension:metadata": pickle.dumps(Trap(marker))}
    schema = pa.schema([pa.field("a", pa.int64(), metadata=metadata)])
    sink = io.BytesIO()
    pq.write_table(pa.table({"a": [1, 2]}, schema=schema), sink)
    return sink.getvalue()


@unittest.skipIf(pa is None, "pyarrow is not installed")
class PickleInParquetTest(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.marker = os.path.join(tmp.name, "unpickled")

    def test_a_pickled_extension_type_is_read_as_plain_data(self) -> None:
        from tinyserve.tables import read_parquet

        frame = read_parquet(parquet_with_pickle(self.marker))
        self.assertEqual(frame["a"].tolist(), [1, 2])
        self.assertFalse(os.path.exists(self.marker))

    def test_a_pyarrow_that_unpickles_is_disarmed_before_reading(self) -> None:
        import pandas as pd

        from tinyserve.tables import read_parquet

        class Unpickling(pa.ExtensionType):  # what pyarrow 0.15 to 14.0.0 registered
            def __init__(self) -> None:
                super().__init__(pa.int64(), PICKLED_TYPE)

            def __arrow_ext_serialize__(self) -> bytes:
                return b""

            @classmethod
            def __arrow_ext_deserialize__(cls, storage_type, serialized):
                if serialized:  # (raising here would crash pyarrow's reader threads)
                    pickle.loads(serialized)
                return cls()

        try:
            pa.register_extension_type(Unpickling())
        except (pa.ArrowException, KeyError, ValueError):
            self.skipTest(f"this pyarrow reserves the name {PICKLED_TYPE}")
        self.addCleanup(unregister_quietly)
        body = parquet_with_pickle(self.marker)
        pd.read_parquet(io.BytesIO(body))  # the simulated old pyarrow does unpickle...
        self.assertTrue(os.path.exists(self.marker))
        os.remove(self.marker)
        frame = read_parquet(body)  # ...but not when tinyserve reads the body
        self.assertEqual(frame["a"].tolist(), [1, 2])
        self.assertFalse(os.path.exists(self.marker))


def unregister_quietly() -> None:
    try:
        pa.unregister_extension_type(PICKLED_TYPE)
    except KeyError:
        pass


if __name__ == "__main__":
    unittest.main()
