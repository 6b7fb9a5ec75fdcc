"""pytest only: print the figures tests collected (``tests.support.SUMMARY_LINES``), such as
the compatibility suite's ``agreement: N/M``, in the run's summary where the CI log shows them."""
from __future__ import annotations

from tests.support import SUMMARY_LINES


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    for line in SUMMARY_LINES:
        terminalreporter.write_line(line)
