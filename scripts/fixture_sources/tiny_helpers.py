"""Helper module shipped with the `pyfunc_artifacts` fixture through `code_paths`.

It lands in `<model>/code/tiny_helpers.py`; the pickled model calls `label_for` by reference,
so loading only works when the loader puts `<model>/code` on `sys.path` first.
"""
from __future__ import annotations


def label_for(score: float, threshold: float, prefix: str) -> str:
    """Label a score as high or low against the threshold from the model config."""
    return prefix + ("high" if score >= threshold else "low")
