"""Writers for ``tinyserve predict``: MLflow's JSON document, CSV, or JSON lines, chunk by chunk.

Every writer gets the chunks' ``Scored`` results in input order. The JSON writer produces
exactly the bytes ``encode_predictions`` gives for the whole input (the bytes MLflow's
``models predict`` writes, NaN aside): with one chunk it is that call; with several it joins the
chunks' encoded rows, which is the same document as long as the model answers one value per
input row. Dict-of-columns predictions are streamed through one temporary file per key, so
memory stays bounded either way. CSV and JSON lines turn a prediction into named columns
(``prediction_table``); the README documents the naming.
"""
from __future__ import annotations

import csv
import sys
import tempfile
from typing import IO, Any, Dict, List, NamedTuple, Optional

from tinyserve.encode import array_to_list, column_values, dumps, encode_predictions
from tinyserve.scoring import Scored

ONE_COLUMN = "prediction"
_PLAIN_TOKENS = frozenset({int, float, bool, type(None)})


class NotRowAligned(ValueError):
    """The prediction is not one value per input row, so chunks cannot be joined."""


class Table(NamedTuple):
    columns: List[str]
    values: List[list]  # one list of JSON-able values per column


def input_rows(scored: Scored) -> Optional[int]:
    """How many rows the model was given, when its input is a table or an array."""
    try:
        return len(scored.data)
    except TypeError:
        return None


def _check_rows(prediction_rows: int, scored: Scored) -> None:
    rows = input_rows(scored)
    if rows is not None and prediction_rows != rows:
        raise NotRowAligned(f"the model returned {prediction_rows} values for {rows} input rows")


def prediction_rows(prediction: Any) -> int:
    """How many rows a prediction holds (raises NotRowAligned for a scalar or a ragged dict)."""
    numpy = sys.modules.get("numpy")
    pandas = sys.modules.get("pandas")
    if isinstance(prediction, dict):
        lengths = {len(v) if _is_column(v) else -1 for v in prediction.values()}
        if -1 in lengths or len(lengths) > 1:
            raise NotRowAligned("the model returned a dict that is not columns of equal length, "
                                "not one value per row")
        return lengths.pop() if lengths else 0
    sized = (list, tuple)
    if pandas is not None:
        sized += (pandas.DataFrame, pandas.Series)
    if isinstance(prediction, sized) or (
        numpy is not None and isinstance(prediction, numpy.ndarray) and prediction.ndim >= 1
    ):
        return len(prediction)
    raise NotRowAligned(f"the model returned a {type(prediction).__name__}, not one value per row")


def _sequence_table(items: list) -> Table:
    if items and all(isinstance(item, dict) for item in items):
        keys: Dict[Any, None] = {}
        for item in items:
            keys.update(dict.fromkeys(item))
        return Table([str(key) for key in keys], [[item.get(key) for item in items] for key in keys])
    widths = {len(item) if isinstance(item, (list, tuple)) else -1 for item in items}
    if len(widths) == 1 and widths != {-1}:
        width = widths.pop()
        return Table([f"{ONE_COLUMN}_{j}" for j in range(width)],
                     [[item[j] for item in items] for j in range(width)])
    return Table([ONE_COLUMN], [items])


def prediction_table(prediction: Any, scored: Scored) -> Table:
    """A prediction as named columns of one value per input row (raises NotRowAligned)."""
    _check_rows(prediction_rows(prediction), scored)
    numpy = sys.modules.get("numpy")
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(prediction, pandas.DataFrame):
        return Table([str(c) for c in prediction.columns],
                     [column_values(prediction.iloc[:, i]) for i in range(prediction.shape[1])])
    if pandas is not None and isinstance(prediction, pandas.Series):
        name = ONE_COLUMN if prediction.name is None else str(prediction.name)
        return Table([name], [column_values(prediction)])
    if numpy is not None and isinstance(prediction, numpy.ndarray):
        if prediction.ndim == 2:
            return Table([f"{ONE_COLUMN}_{j}" for j in range(prediction.shape[1])],
                         [array_to_list(prediction[:, j]) for j in range(prediction.shape[1])])
        return Table([ONE_COLUMN], [array_to_list(prediction)])
    if isinstance(prediction, dict):
        return Table([str(key) for key in prediction],
                     [v if isinstance(v, list) else array_to_list(v) for v in prediction.values()])
    return _sequence_table(list(prediction))


def _is_column(value: Any) -> bool:
    numpy = sys.modules.get("numpy")
    return isinstance(value, list) or (numpy is not None and isinstance(value, numpy.ndarray)
                                       and value.ndim >= 1)


def input_table(scored: Scored) -> Table:
    """The input rows as the model received them (after the signature's casts)."""
    pandas = sys.modules.get("pandas")
    frame = scored.data
    if pandas is None or not isinstance(frame, pandas.DataFrame):
        raise NotRowAligned("--include-input needs tabular input (CSV, JSON lines, Parquet or a "
                            "dataframe_split / dataframe_records document)")
    return Table([str(c) for c in frame.columns],
                 [column_values(frame.iloc[:, i]) for i in range(frame.shape[1])])


def joined_table(scored: Scored, include_input: bool) -> Table:
    """Prediction columns, after the input columns when asked; a clashing name gets a suffix."""
    predicted = prediction_table(scored.prediction, scored)
    if not include_input:
        return predicted
    given = input_table(scored)
    taken = set(given.columns)
    names = [f"{name}_{ONE_COLUMN}" if name in taken else name for name in predicted.columns]
    return Table(given.columns + names, given.values + predicted.values)


# --- writers ---------------------------------------------------------------------------------


class JsonWriter:
    """``{"predictions": ...}`` exactly as for the whole input, written chunk by chunk."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.held: Optional[Scored] = None  # the first chunk, until a second one shows up
        self.mode = ""  # "", "list" or "dict"
        self.key_files: Dict[str, IO[bytes]] = {}
        self.rows_written = 0  # rows whose predictions reached the stream

    def write(self, scored: Scored) -> None:
        if not self.mode and self.held is None:
            self.held = scored
            return
        if not self.mode:
            held, self.held = self.held, None
            self._start(held)
        self._add(scored)

    def close(self) -> None:
        if self.held is not None:  # one chunk: the document is exactly MLflow's
            self.stream.write(encode_predictions(self.held.prediction, wrap=not self.held.unwrap))
        elif self.mode == "list":
            self.stream.write(b"]}")
        elif self.mode == "dict":
            self._write_dict()
        else:
            self.stream.write(b'{"predictions": []}')

    def _start(self, scored: Scored) -> None:
        if scored.unwrap:
            raise NotRowAligned("an unwrapped (chat / LLM) answer cannot be split into chunks")
        prediction = scored.prediction
        if isinstance(prediction, dict):
            self.mode = "dict"
            self.key_files = {key: tempfile.TemporaryFile() for key in prediction}
        else:
            self.mode = "list"
            self.stream.write(b'{"predictions": [')
        self._add(scored)

    def _add(self, scored: Scored) -> None:
        rows = prediction_rows(scored.prediction)
        _check_rows(rows, scored)
        if self.mode == "dict":  # dict columns reach the stream only at the end
            if list(scored.prediction) != list(self.key_files):
                raise NotRowAligned("the model returned different dict keys for different chunks")
            for key, value in scored.prediction.items():
                self._append(self.key_files[key], encode_predictions(value, wrap=False))
            return
        fragment = encode_predictions(scored.prediction, wrap=False)
        if not fragment.startswith(b"["):
            raise NotRowAligned("the model's answer is not a list of rows")
        inner = fragment[1:-1]
        if inner:
            self.stream.write((b", " if self.rows_written else b"") + inner)
        self.rows_written += rows

    @staticmethod
    def _append(file: IO[bytes], fragment: bytes) -> None:
        inner = fragment[1:-1]
        if inner:
            file.write((b", " if file.tell() else b"") + inner)

    def _write_dict(self) -> None:
        self.stream.write(b'{"predictions": {')
        for position, (key, file) in enumerate(self.key_files.items()):
            self.stream.write((b", " if position else b"") + dumps({key: 0})[1:-4].encode("ascii"))
            self.stream.write(b": [")
            file.seek(0)
            for block in iter(lambda: file.read(1 << 20), b""):
                self.stream.write(block)
            file.close()
            self.stream.write(b"]")
        self.stream.write(b"}}")


def _csv_cells(values: list) -> list:
    """One column's CSV text: strings as they are, null as empty, anything else as JSON."""
    kinds = set(map(type, values))
    if kinds <= {str}:
        return values
    if kinds <= _PLAIN_TOKENS and values:
        tokens = dumps(values)[1:-1].split(", ")
        return ["" if token == "null" else token for token in tokens]
    return ["" if v is None else v if isinstance(v, str) else dumps(v) for v in values]


def _write_plain_rows(stream: IO[str], columns: List[list]) -> bool:
    """Write rows joined with commas when no cell needs CSV quoting (the common case, several
    times faster than csv.writer); False, writing nothing, when some cell might."""
    if not columns or not columns[0]:
        return False
    text = "\n".join(map(",".join, zip(*columns)))
    rows, width = len(columns[0]), len(columns)
    if ('"' in text or "\r" in text or text.count("\n") != rows - 1
            or text.count(",") != rows * (width - 1)):
        return False
    if width == 1 and "" in columns[0]:  # csv writes an empty single field as ""
        return False
    stream.write(text + "\n")
    return True


class CsvWriter:
    """A header row, then one row per input row, in input order."""

    def __init__(self, stream: IO[str], include_input: bool) -> None:
        self.stream = stream
        self.writer = csv.writer(stream, lineterminator="\n")
        self.include_input = include_input
        self.columns: Optional[List[str]] = None
        self.rows_written = 0

    def write(self, scored: Scored) -> None:
        table = joined_table(scored, self.include_input)
        if self.columns is None:
            self.columns = table.columns
            self.writer.writerow(table.columns)
        elif table.columns != self.columns:
            raise NotRowAligned(f"the prediction columns changed from {self.columns} to "
                                f"{table.columns} between chunks")
        columns = [_csv_cells(values) for values in table.values]
        if not _write_plain_rows(self.stream, columns):
            self.writer.writerows(zip(*columns))
        self.rows_written += len(columns[0]) if columns else 0

    def close(self) -> None:
        pass


class JsonLinesWriter:
    """One JSON object per input row: ``{"prediction": ...}`` or the prediction's own columns."""

    def __init__(self, stream: IO[str], include_input: bool) -> None:
        self.stream = stream
        self.include_input = include_input
        self.rows_written = 0

    def write(self, scored: Scored) -> None:
        table = joined_table(scored, self.include_input)
        for row in zip(*table.values):
            self.stream.write(dumps(dict(zip(table.columns, row))) + "\n")
            self.rows_written += 1

    def close(self) -> None:
        pass
