"""Give memory freed by large requests back to the operating system (glibc; elsewhere no-ops).

- At start, every block over 256 KiB gets a mapping of its own, returned when freed
  (``map_large_blocks_separately``). glibc otherwise raises its threshold each time such a
  block is freed, after which request-sized buffers land on the heap and stay there: a worker
  that had served the 10,000-row JSON and CSV requests of ``scripts/bench.py`` stayed at
  230-244 MiB, and with the fixed threshold at 204-205 MiB (183 MiB idle).
- After a request or answer over 1 MiB (``wsgi.LARGE_BODY_BYTES``), ``malloc_trim(0)`` returns
  the heap pages its body, frame and answer used: after 100,000-row CSV requests a worker
  stayed 354-356 MiB without it and 204-206 MiB with it. It walks the heap, a few
  milliseconds at most, which only large requests pay.

Standard library only (ctypes).
"""
from __future__ import annotations

import ctypes
import functools
from typing import Any, Optional

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers
M_MMAP_THRESHOLD = -3
TRIM_THRESHOLD = 32 << 20  # the default follows the mmap threshold once that is set: 128 KiB


@functools.lru_cache(maxsize=None)
def _libc_function(name: str) -> Optional[Any]:
    """``name`` from the C library the interpreter runs on, or None where it has none."""
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None


def release_freed_memory() -> None:
    """Return freed heap pages to the system, when the C library can."""
    trim = _libc_function("malloc_trim")
    if trim is not None:
        trim(0)


def map_large_blocks_separately(threshold: int = 256 * 1024) -> None:
    """Keep every block over ``threshold`` in its own mapping, returned to the system on free.

    glibc raises its mmap threshold (up to 32 MB) each time such a block is freed, after which
    request-sized buffers land on the heap and stay there, fragmented. Fixing the threshold
    also fixes the heap's own trim threshold at 128 KiB, so that goes up to 32 MiB: the heap
    top is then not shrunk and regrown around small requests (the trim after large requests
    does not depend on it)."""
    mallopt = _libc_function("mallopt")
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, threshold)
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
