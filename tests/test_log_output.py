"""Batched log output: every line arrives, in order, in few writes; warnings at once; nothing
lost at exit or in a forked worker, and nothing written twice across a fork."""
from __future__ import annotations

import io
import logging
import subprocess
import sys
import time
import unittest

from tinyserve.log_output import BatchedStreamHandler


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def logger_with(handler: logging.Handler, name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger


class BatchedStreamHandlerTest(unittest.TestCase):
    def test_info_lines_arrive_in_order_in_a_few_writes(self) -> None:
        stream = CountingStream()
        handler = BatchedStreamHandler(stream)
        logger = logger_with(handler, "test.batched.info")
        for number in range(2000):
            logger.info("line %d", number)
        expected = "".join(f"line {number}\n" for number in range(2000))
        deadline = time.monotonic() + 5  # the writer thread writes within 0.1 s
        while stream.getvalue() != expected and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual(stream.getvalue(), expected)
        self.assertLess(stream.writes, 50)  # 2,000 lines, a handful of writes
        handler.close()

    def test_a_warning_is_written_at_once_after_the_lines_before_it(self) -> None:
        stream = CountingStream()
        handler = BatchedStreamHandler(stream)
        logger = logger_with(handler, "test.batched.warning")
        logger.info("first")
        logger.info("second")
        logger.warning("trouble")
        self.assertEqual(stream.getvalue(), "first\nsecond\ntrouble\n")  # no waiting
        handler.close()


EXIT_SCRIPT = """
import logging, os, sys
from tinyserve.server import configure_logging
from tinyserve.log_output import flush_logs
configure_logging()
log = logging.getLogger("tinyserve.access")
log.info("parent before fork")
pid = os.fork()
if pid == 0:
    log.info("child line")
    flush_logs()
    os._exit(0)
os.waitpid(pid, 0)
for number in range(500):
    log.info("parent line %d", number)
"""  # the parent then exits normally, with lines still waiting to be written


class ProcessExitTest(unittest.TestCase):
    def test_lines_survive_exit_and_fork_and_none_is_written_twice(self) -> None:
        result = subprocess.run([sys.executable, "-c", EXIT_SCRIPT], stderr=subprocess.PIPE,
                                text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = result.stderr.splitlines()
        self.assertEqual(sum("parent before fork" in line for line in lines), 1)
        self.assertEqual(sum("child line" in line for line in lines), 1)
        numbers = [int(line.rsplit(" ", 1)[1]) for line in lines if "parent line" in line]
        self.assertEqual(numbers, list(range(500)))


if __name__ == "__main__":
    unittest.main()
