"""Cut CSV and JSON-lines input into request bodies of whole records, without parsing them.

``tinyserve predict`` scores files larger than memory: the byte stream is cut into bodies of
``batch_size`` records, and each body goes through the same ``Scorer`` an HTTP request does, so
a chunk is decoded exactly as ``/invocations`` would decode it. A CSV record ends at a newline
outside double quotes (RFC 4180 doubles a quote inside a quoted field, so the parity of the
quotes before a newline decides). numpy finds the record ends of a block in one pass and the
records stay one bytes object: the per-record Python work happens only when a chunk fails and
its bad record is looked for.
"""
from __future__ import annotations

from typing import BinaryIO, Iterator, List, NamedTuple, Tuple

import numpy as np

BLOCK_SIZE = 1 << 20
MAX_RECORD_SIZE = 64 << 20  # a quote left open must not pull the whole file into memory

CSV_TYPE = "text/csv"
JSON_TYPE = "application/json"


class InputError(Exception):
    """Input that cannot be cut into records or scored; the text names the line."""


class Record(NamedTuple):
    row: int  # 1-based, blank lines and the CSV header not counted
    line: int  # 1-based physical line where the record starts
    text: bytes


class Chunk(NamedTuple):
    """A complete request body and where its records came from."""

    body: bytes
    content_type: str
    header: bytes  # the CSV header line (with its newline); empty for JSON lines
    records: bytes  # the records, each ending with a newline
    first_row: int
    first_line: int

    def split(self) -> List[Record]:
        """The chunk's non-blank records, numbered (only needed when the chunk fails)."""
        found = []
        row, line = self.first_row, self.first_line
        for text in _record_texts(self.records, quoted=self.content_type == CSV_TYPE):
            if text.strip():
                found.append(Record(row, line, text))
                row += 1
            line += text.count(b"\n") + 1
        return found

    def body_of(self, record: Record) -> bytes:
        """A body holding only ``record``, decoded as the whole chunk would be."""
        return _body(self.content_type, self.header, record.text + b"\n")


def _record_texts(records: bytes, quoted: bool) -> List[bytes]:
    ends = _record_ends(records, quoted).tolist()
    starts = [0] + [end + 1 for end in ends[:-1]]
    return [records[start:end].rstrip(b"\r") for start, end in zip(starts, ends)]


def _body(content_type: str, header: bytes, records: bytes) -> bytes:
    if content_type == CSV_TYPE:
        return header + records
    lines = [line for line in records.split(b"\n") if line.strip()]
    return b'{"dataframe_records": [' + b", ".join(lines) + b"]}"


def _record_ends(data: bytes, quoted: bool) -> np.ndarray:
    """Offsets of the newlines that end a record (``data`` starts at a record start)."""
    raw = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(raw == 10)
    if quoted and b'"' in data:
        quotes_before = np.cumsum(raw == 34)
        newlines = newlines[quotes_before[newlines] % 2 == 0]
    return newlines


class RecordCutter:
    """Reads a stream block by block and cuts off runs of ``n`` complete records."""

    def __init__(self, stream: BinaryIO, quoted: bool, block_size: int = BLOCK_SIZE) -> None:
        self.stream = stream
        self.quoted = quoted
        self.block_size = block_size
        self.complete = b""  # whole records not handed out yet
        self.ends = np.empty(0, dtype=np.int64)  # their newline offsets in ``complete``
        self.partial = b""  # the start of a record whose end has not been read yet
        self.bytes_read = 0
        self.at_end = False

    def take(self, n: int) -> Tuple[bytes, np.ndarray]:
        """Up to ``n`` records (fewer only at the end of the stream), each ending in a newline,
        and the offsets of those newlines."""
        while len(self.ends) < n and not self.at_end:
            self._read_block()
        count = min(n, len(self.ends))
        if count == 0:
            return b"", self.ends[:0]
        cut = int(self.ends[count - 1]) + 1
        taken, self.complete = self.complete[:cut], self.complete[cut:]
        ends, self.ends = self.ends[:count], self.ends[count:] - cut
        return taken, ends

    def _read_block(self) -> None:
        block = self.stream.read(self.block_size)
        self.bytes_read += len(block)
        if not block:
            self.at_end = True
            if not self.partial.strip():
                return
            block = b"\n"  # the last record had no newline of its own
        data = self.partial + block
        ends = _record_ends(data, self.quoted)
        if len(ends) == 0:
            self.partial = data
            if len(data) > MAX_RECORD_SIZE:
                raise InputError(
                    f"a record is longer than {MAX_RECORD_SIZE >> 20} MB"
                    + (" (a quoted field that is never closed?)" if self.quoted else "")
                )
            return
        last = int(ends[-1]) + 1
        self.ends = np.concatenate([self.ends, ends + len(self.complete)])
        self.complete += data[:last]
        self.partial = data[last:]


_WHITESPACE = np.array([32, 9, 13], dtype=np.uint8)


def _blank_records(records: bytes, ends: np.ndarray) -> int:
    """How many records are blank (pandas skips them, so row numbers must too).

    Only records that are empty or start with a space, tab or CR can be blank; numpy finds
    those, and just they are looked at one by one."""
    starts = np.concatenate([[0], ends[:-1] + 1])
    raw = np.frombuffer(records, dtype=np.uint8)
    first = raw[np.minimum(starts, len(raw) - 1)]
    candidates = np.flatnonzero((ends == starts) | np.isin(first, _WHITESPACE))
    return sum(1 for i in candidates.tolist() if not records[starts[i]:ends[i]].strip())


class ChunkReader:
    """Iterates over the chunks of a CSV (``kind="csv"``) or JSON-lines stream."""

    def __init__(self, stream: BinaryIO, kind: str, batch_size: int) -> None:
        self.quoted = kind == "csv"
        self.content_type = CSV_TYPE if self.quoted else JSON_TYPE
        self.cutter = RecordCutter(stream, self.quoted)
        self.batch_size = batch_size

    @property
    def bytes_read(self) -> int:
        return self.cutter.bytes_read

    def __iter__(self) -> Iterator[Chunk]:
        header, line = self._header()
        row = 1
        while True:
            records, ends = self.cutter.take(self.batch_size)
            if not records:
                return
            if records.strip():  # a run of blank lines is no request at all
                body = _body(self.content_type, header, records)
                yield Chunk(body, self.content_type, header, records, row, line)
            row += len(ends) - _blank_records(records, ends)
            line += records.count(b"\n")

    def _header(self) -> Tuple[bytes, int]:
        """The CSV header line and the line number after it (JSON lines: no header)."""
        header, line = b"", 1
        while self.quoted and not header.strip():
            header, _ends = self.cutter.take(1)
            if not header:
                raise InputError("the CSV input is empty: it needs a header row")
            line += header.count(b"\n")
        return header, line
