"""``tinyserve predict``: score a file or a pipe through the same ``Scorer`` as ``/invocations``.

CSV and JSON-lines input are cut into chunks (``chunks``) and scored one chunk at a time, so
memory stays bounded whatever the input size; a JSON document and Parquet are read whole. When
a chunk fails, its records are scored one by one to name the first bad one by line and row
(the message itself is MLflow's, which names the column). Output goes to a temporary file
next to the target and is renamed into place only when every row was scored, so a failed run
leaves no partial file; on stdout the error says how many rows were already written.
"""
from __future__ import annotations

import io
import os
import re
import sys
import tempfile
from stat import S_ISREG
from typing import IO, Any, Iterable, Iterator, Optional, Tuple

from tinyserve.batch_output import CsvWriter, JsonLinesWriter, JsonWriter, NotRowAligned, input_rows
from tinyserve.chunks import Chunk, ChunkReader, InputError
from tinyserve.errors import ScoringError, UnsupportedMediaType
from tinyserve.progress import Progress
from tinyserve.scoring import Scorer
from tinyserve.tables import bad_csv_value, csv_field_count_problem, csv_fields

CONTENT_TYPES = {
    "json": "application/json",
    "csv": "text/csv",
    "jsonl": "application/json",
    "parquet": "application/vnd.apache.parquet",
}
CHUNKED_KINDS = ("csv", "jsonl")


class PredictFailed(Exception):
    """Scoring stopped; the text is the one line the CLI prints (exit status 1)."""


# MLflow's messages repeat the data and the schema ("Failed to predict data '<repr>'. \nError:
# Failed to enforce schema of data '<repr>' with schema '<schema>'. Error: <why>"); on a
# command line only <why> helps.
_DATA_ECHO = re.compile(r"^Failed to predict data '.*?'\. \nError: "
                        r"(?:Failed to enforce schema of data '.*' with schema '.*?'\. Error: )?",
                        re.DOTALL)


def _reason(error: Exception) -> str:
    if isinstance(error, UnsupportedMediaType):
        return error.text
    text = error.message if isinstance(error, ScoringError) else str(error)
    return _DATA_ECHO.sub("", text).strip().rstrip(".")


def locate_failure(scorer: Scorer, chunk: Chunk, error: Exception) -> str:
    """"line L (row R): <why>" for the first record of ``chunk`` that fails on its own."""
    names = csv_fields(chunk.header) if chunk.header else None
    for record in chunk.split():
        where = f"line {record.line} (row {record.row})"
        fields = csv_fields(record.text) if names is not None else None
        if fields is not None:  # a row with extra fields parses on its own (as an index column)
            problem = csv_field_count_problem(names, fields)
            if problem:
                return f"{where}: {problem}"
        try:
            scorer.run(chunk.body_of(record), chunk.content_type)
        except (ScoringError, UnsupportedMediaType) as record_error:
            detail = fields is not None and bad_csv_value(names, fields,
                                                          scorer.model.input_schema)
            return f"{where}: {detail or _reason(record_error)}"
    last = chunk.first_line + chunk.records.count(b"\n") - 1
    return f"lines {chunk.first_line}-{last} (every row passes on its own): {_reason(error)}"


def whole_input(stream: IO[bytes], kind: str) -> Iterator[Chunk]:
    body = stream.read()
    yield Chunk(body, CONTENT_TYPES[kind], b"", b"", 1, 1)


class Batch:
    """One run of ``tinyserve predict``: chunks in, a writer out, a progress line on the side."""

    def __init__(self, scorer: Scorer, writer: Any, progress: Progress) -> None:
        self.scorer = scorer
        self.writer = writer
        self.progress = progress
        self.rows = 0

    def run(self, stream: IO[bytes], kind: str, batch_size: int) -> int:
        reader: Any = None
        if kind in CHUNKED_KINDS:  # --batch-size 0: one chunk holding every record
            reader = ChunkReader(stream, kind, batch_size or sys.maxsize)
            chunks: Iterable[Chunk] = reader
        else:
            chunks = whole_input(stream, kind)
        for chunk in chunks:
            self.score(chunk)
            self.progress.update(self.rows, reader.bytes_read if reader else 0)
        self.writer.close()
        self.progress.finish(self.rows, reader.bytes_read if reader else 0)
        return self.rows

    def score(self, chunk: Chunk) -> None:
        try:
            scored = self.scorer.run(chunk.body, chunk.content_type)
        except (ScoringError, UnsupportedMediaType) as error:
            if chunk.records:
                raise PredictFailed(locate_failure(self.scorer, chunk, error)) from None
            raise PredictFailed(_reason(error)) from None
        try:
            self.writer.write(scored)
        except NotRowAligned as error:
            raise PredictFailed(
                f"{error}; such predictions cannot be written as {self.writer_kind()}"
                + (" or joined across chunks: use --batch-size 0 to score the input whole"
                   if isinstance(self.writer, JsonWriter) else "")
            ) from None
        self.rows += input_rows(scored) or 0

    def writer_kind(self) -> str:
        return {JsonWriter: "JSON", CsvWriter: "CSV rows", JsonLinesWriter: "JSON lines"}.get(
            type(self.writer), "output")


class Output:
    """Where predictions go: a temporary file renamed into place on success, or stdout."""

    def __init__(self, path: Optional[str], text: bool) -> None:
        self.path = path
        self.text = text
        self.temp_path: Optional[str] = None
        self.raw: Optional[IO[bytes]] = None

    def open(self) -> IO[Any]:
        if self.path is None:
            self.raw = sys.stdout.buffer
        else:
            directory = os.path.dirname(os.path.abspath(self.path))
            fd, self.temp_path = tempfile.mkstemp(
                dir=directory, prefix=f".{os.path.basename(self.path)}.", suffix=".partial")
            self.raw = os.fdopen(fd, "wb")
        if self.text:
            return io.TextIOWrapper(self.raw, encoding="utf-8", newline="", write_through=False)
        return self.raw

    def commit(self, stream: IO[Any]) -> None:
        stream.flush()
        if self.temp_path is not None:
            stream.close()
            os.replace(self.temp_path, self.path)
            self.temp_path = None
        elif self.text:
            stream.detach()  # leave sys.stdout usable

    def abandon(self, stream: IO[Any], rows: int) -> str:
        """Remove the partial file; the words that tell the user what was left behind."""
        if self.temp_path is not None:
            try:
                stream.close()
            finally:
                os.unlink(self.temp_path)
            return f"nothing was written to {self.path}"
        stream.flush()
        if not rows:
            return "nothing was written to stdout"
        return f"predictions for {rows} rows were written to stdout before the error"


def open_input(path: Optional[str]) -> Tuple[IO[bytes], Optional[int]]:
    """The input stream and its size in bytes when known (for the progress ETA)."""
    if path is None or path == "-":
        stat = os.fstat(sys.stdin.fileno())  # `< file` redirection: the size is known
        return sys.stdin.buffer, stat.st_size if S_ISREG(stat.st_mode) and stat.st_size else None
    try:
        stream = open(path, "rb")
    except OSError as error:
        raise PredictFailed(f"cannot read {path}: {error.strerror}") from None
    size = os.fstat(stream.fileno()).st_size
    return stream, size or None


def predict(scorer: Scorer, input_path: Optional[str], kind: str, output_path: Optional[str],
            output_format: str, batch_size: int, include_input: bool, show_progress: bool) -> int:
    """Score ``input_path`` into ``output_path``; the number of rows scored."""
    stream, size = open_input(input_path)
    output = Output(output_path, text=output_format != "json")
    target = output.open()
    if output_format == "json":
        writer: Any = JsonWriter(target)
    elif output_format == "csv":
        writer = CsvWriter(target, include_input)
    else:
        writer = JsonLinesWriter(target, include_input)
    batch = Batch(scorer, writer, Progress(sys.stderr, show_progress, size))
    source = input_path if input_path not in (None, "-") else "stdin"
    try:
        rows = batch.run(stream, kind, batch_size)
    except (PredictFailed, InputError) as error:
        left = output.abandon(target, writer.rows_written)
        raise PredictFailed(f"{source}: {error}; {left}") from None
    except BaseException:
        output.abandon(target, writer.rows_written)
        raise
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    output.commit(target)
    return rows
