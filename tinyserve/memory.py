"""Give memory freed after a large request back to the operating system.

glibc keeps the heap pages that a large request's body, frame and answer used once they are
freed, so a worker that once read a 74 MB CSV stays about 90 MB bigger than it needs to
(``scripts/bench.py``, "RSS after 100k-row load"). ``malloc_trim(0)`` returns them. It runs
only after requests or answers over 1 MiB (``wsgi.LARGE_BODY_BYTES``; it walks the heap, a few milliseconds at
most), and does nothing where the C library has no ``malloc_trim`` (musl, macOS). Standard
library only.
"""
from __future__ import annotations

import ctypes
from typing import Any, Optional

_trim: Optional[Any] = None
_looked_up = False


def release_freed_memory() -> None:
    """Return freed heap pages to the system, when the C library can."""
    global _trim, _looked_up
    if not _looked_up:
        _looked_up = True
        try:
            _trim = ctypes.CDLL(None).malloc_trim  # the C library the interpreter runs on
        except (OSError, AttributeError):
            _trim = None
    if _trim is not None:
        _trim(0)
