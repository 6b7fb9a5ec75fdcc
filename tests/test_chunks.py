"""Cutting CSV and JSON-lines streams into whole-record chunks, and the progress line."""
from __future__ import annotations

import io
import unittest
from unittest import mock

from tinyserve import chunks
from tinyserve.chunks import ChunkReader, InputError, RecordCutter
from tinyserve.progress import Progress

CSV = (b'a,b\n1,"x"\n2,"two\nlines"\n\n3,"say ""hi"", then\r\nleave"\r\n4,y\n'
       b'5,"\n"\n6,last')


class RecordCutterTest(unittest.TestCase):
    def test_records_survive_any_block_size(self) -> None:
        for block_size in (1, 2, 3, 7, 64, 1 << 20):
            with self.subTest(block_size=block_size):
                cutter = RecordCutter(io.BytesIO(CSV), quoted=True, block_size=block_size)
                taken = []
                while True:
                    records, ends = cutter.take(2)
                    if not records:
                        break
                    taken.append((records, len(ends)))
                self.assertEqual(b"".join(r for r, _ in taken), CSV + b"\n")
                self.assertEqual([c for _, c in taken], [2, 2, 2, 2])
                self.assertEqual(cutter.bytes_read, len(CSV))

    def test_json_lines_ignore_quotes(self) -> None:
        cutter = RecordCutter(io.BytesIO(b'{"a": "\\""}\n{"a": 1}\n'), quoted=False, block_size=3)
        records, ends = cutter.take(5)
        self.assertEqual((records, ends.tolist()), (b'{"a": "\\""}\n{"a": 1}\n', [11, 20]))

    def test_a_quote_that_never_closes_stops_at_the_record_limit(self) -> None:
        with mock.patch.object(chunks, "MAX_RECORD_SIZE", 100):
            cutter = RecordCutter(io.BytesIO(b'a\n"' + b"x\n" * 200), quoted=True, block_size=16)
            cutter.take(1)
            with self.assertRaisesRegex(InputError, "never closed"):
                cutter.take(1)


class ChunkReaderTest(unittest.TestCase):
    def test_whitespace_only_lines_are_not_rows_as_in_pandas(self) -> None:
        data = b"a\n1\n   \n\t\r\n\n2\n \n3\n"
        found = list(ChunkReader(io.BytesIO(data), "csv", batch_size=3))
        self.assertEqual([(c.first_row, c.first_line) for c in found], [(1, 2), (2, 5), (3, 8)])
        self.assertEqual([(r.row, r.line) for c in found for r in c.split()],
                         [(1, 2), (2, 6), (3, 8)])

    def test_csv_chunks_carry_the_header_and_number_rows_and_lines(self) -> None:
        found = list(ChunkReader(io.BytesIO(CSV), "csv", batch_size=2))
        self.assertTrue(all(chunk.body.startswith(b"a,b\n") for chunk in found))
        records = [record for chunk in found for record in chunk.split()]
        self.assertEqual([(r.row, r.line) for r in records],
                         [(1, 2), (2, 3), (3, 6), (4, 8), (5, 9), (6, 11)])
        self.assertEqual(records[2].text, b'3,"say ""hi"", then\r\nleave"')
        self.assertEqual(found[0].body_of(records[1]), b'a,b\n2,"two\nlines"\n')

    def test_blank_lines_before_the_header_are_skipped(self) -> None:
        found = list(ChunkReader(io.BytesIO(b"\n\na\n1\n"), "csv", batch_size=5))
        self.assertEqual([(c.body, c.first_row, c.first_line) for c in found],
                         [(b"a\n1\n", 1, 4)])

    def test_empty_csv_is_an_error_and_header_only_gives_no_chunk(self) -> None:
        with self.assertRaisesRegex(InputError, "empty"):
            list(ChunkReader(io.BytesIO(b"\n \n"), "csv", batch_size=5))
        self.assertEqual(list(ChunkReader(io.BytesIO(b"a,b\n"), "csv", batch_size=5)), [])

    def test_json_lines_become_dataframe_records_bodies(self) -> None:
        data = b'{"a": 1}\n\n{"a": 2}\r\n{"a": 3}'
        found = list(ChunkReader(io.BytesIO(data), "jsonl", batch_size=2))
        self.assertEqual([c.body for c in found],
                         [b'{"dataframe_records": [{"a": 1}]}',
                          b'{"dataframe_records": [{"a": 2}\r, {"a": 3}]}'])
        self.assertEqual([(r.row, r.line) for c in found for r in c.split()],
                         [(1, 1), (2, 3), (3, 4)])


class ProgressTest(unittest.TestCase):
    def test_line_shows_rows_rate_share_and_eta(self) -> None:
        progress = Progress(io.StringIO(), enabled=True, total_bytes=1000)
        self.assertEqual(progress.line(5000, 250, elapsed=10.0),
                         "5,000 rows  500 rows/s  25%  ETA 0:00:30")

    def test_unknown_size_has_no_eta(self) -> None:
        progress = Progress(io.StringIO(), enabled=True)
        self.assertEqual(progress.line(10, 0, elapsed=2.0), "10 rows  5 rows/s")

    def test_redraws_are_throttled_and_padded(self) -> None:
        now = [0.0]
        stream = io.StringIO()
        progress = Progress(stream, enabled=True, interval=1.0, clock=lambda: now[0])
        now[0] = 1.0
        progress.update(100000, 0)
        progress.update(100001, 0)  # too soon: not drawn
        now[0] = 4.0
        progress.update(4, 0)
        progress.finish(4, 0)
        self.assertEqual(stream.getvalue().count("\r"), 3)
        self.assertNotIn("100,001", stream.getvalue())
        self.assertTrue(stream.getvalue().endswith("\n"))
        self.assertIn("4 rows  1 rows/s" + " " * 7, stream.getvalue())

    def test_disabled_writes_nothing(self) -> None:
        stream = io.StringIO()
        progress = Progress(stream, enabled=False)
        progress.update(1, 1)
        progress.finish(1, 1)
        self.assertEqual(stream.getvalue(), "")


if __name__ == "__main__":
    unittest.main()
