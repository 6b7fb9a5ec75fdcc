"""CSV and Parquet request bodies -> DataFrames (spec 5)."""
from __future__ import annotations

import importlib.util
import io
import traceback
from typing import Any, Dict, Optional, Sequence

import numpy as np
import pandas as pd

from tinyserve.errors import ScoringError, UnsupportedMediaType
from tinyserve.signature import Schema
from tinyserve.small_csv import read_small_csv


def object_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """String column labels as an ``object`` Index, not pandas 3's ``str`` one: same labels,
    same rendering, but scikit-learn's feature-name check runs markedly faster on it."""
    if isinstance(frame.columns.dtype, pd.StringDtype):
        frame.columns = pd.Index(frame.columns.tolist(), dtype=object)
    return frame


# DataType.to_pandas() as read_csv's dtype argument (spec 5.1).
CSV_DTYPE_OF = {
    "boolean": np.dtype("bool"), "integer": np.dtype("int32"), "long": np.dtype("int64"),
    "float": np.dtype("float32"), "double": np.dtype("float64"), "string": object,
    "binary": object, "datetime": np.dtype("datetime64[ns]"),
}


def _csv_dtypes(schema: Schema) -> Dict[Any, Any]:
    if schema.is_tensor_spec():
        raise ValueError("TensorSpec only supports numpy types, use numpy_types() instead")
    if not schema.has_only_scalar_columns():
        raise ValueError("Failed to get pandas types as some of the inputs types are not DataType.")
    return dict(zip(schema.input_names(), (CSV_DTYPE_OF[spec.type] for spec in schema.inputs)))


def read_csv(body: bytes, input_schema: Optional[Schema]) -> pd.DataFrame:
    """A CSV body (header row first) as a DataFrame, dtypes taken from a scalar schema."""
    # MLflow decodes the body first; here it is only checked (an ASCII body is UTF-8 without
    # decoding it), and pandas parses the bytes themselves, a third faster than a re-encoded str.
    try:
        if not body.isascii():
            body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ScoringError(
            f"Invalid input. Ensure that input is a valid UTF-8 encoded string. Error: '{error!r}'"
        ) from error
    small = read_small_csv(body, input_schema)
    if small is not None:
        return small
    try:
        dtypes = None if input_schema is None else _csv_dtypes(input_schema)
        frame = pd.read_csv(io.BytesIO(body), dtype=dtypes)
    except Exception as error:
        raise ScoringError(
            "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid "
            "CSV-formatted Pandas DataFrame produced using the `pandas.DataFrame.to_csv()` "
            f"method. Error: '{error}'",
            stack_trace=traceback.format_exc(),
        ) from error
    return object_labels(frame)


PARQUET_ENGINES = ("pyarrow", "fastparquet")


def disarm_pickled_arrow_types() -> None:
    """pyarrow 0.15 to 14.0.0 unpickle a column's ``arrow.py_extension_type`` metadata while
    reading (CVE-2023-47248), so a Parquet body could run code. Unregistering that type leaves
    such a column plain data, as pyarrow 14.0.1 and later do themselves (and pyarrow_hotfix)."""
    if importlib.util.find_spec("pyarrow") is None:
        return
    import pyarrow

    try:
        pyarrow.unregister_extension_type("arrow.py_extension_type")
    except KeyError:  # not registered: pyarrow 14.0.1 or later, or already done
        pass


def read_parquet(body: bytes, engines: Sequence[str] = PARQUET_ENGINES) -> pd.DataFrame:
    """A Parquet body as a DataFrame, untouched (Parquet gets no layer-A pre-cast).

    ``engines``: the packages pandas can read Parquet with; none installed is a 415."""
    if not any(importlib.util.find_spec(name) is not None for name in engines):
        raise UnsupportedMediaType(
            "Parquet input needs the 'parquet' extra: pip install 'tinyserve[parquet]'"
        )
    disarm_pickled_arrow_types()
    try:
        frame = pd.read_parquet(io.BytesIO(body))
    except Exception as error:
        raise ScoringError(
            "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid "
            "Parquet Pandas DataFrame produced using the `pandas.DataFrame.to_parquet()` "
            f"method. Error: '{error}'",
            stack_trace=traceback.format_exc(),
        ) from error
    return object_labels(frame)


def csv_field_count_problem(names: list, fields: list) -> Optional[str]:
    if len(fields) != len(names):
        return f"the row has {len(fields)} fields, the header {len(names)}"
    return None


def csv_fields(line: bytes) -> Optional[list]:
    """One CSV record split into fields, None when it is not valid UTF-8 CSV."""
    import csv

    try:
        return next(csv.reader(io.StringIO(line.decode("utf-8"), newline="")))
    except (UnicodeDecodeError, StopIteration, csv.Error):
        return None


def bad_csv_value(names: list, fields: list, input_schema: Optional[Schema]) -> Optional[str]:
    """Which field of one CSV record (split into ``fields`` under the header ``names``) cannot
    take its column's type: for messages that point at a row.

    pandas' own parse errors name neither the row nor the column (``could not convert string
    to float: 'abc'``); this re-reads the record field by field with the same dtypes."""
    try:
        dtypes = {} if input_schema is None else _csv_dtypes(input_schema)
    except ValueError:
        return None
    type_names = dict(zip(input_schema.input_names(), input_schema.input_types())) if dtypes else {}
    for name, value in zip(names, fields):
        if name not in dtypes:
            continue
        try:
            pd.read_csv(io.StringIO(f"c\n{value}\n"), dtype={"c": dtypes[name]},
                        keep_default_na=True)
        except Exception:
            return f"column {name!r}: {value!r} is not a valid {type_names[name]}"
    return None
