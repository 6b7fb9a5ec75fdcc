"""The Prometheus text exposition format, version 0.0.4, written without a client library.

Kept apart from the recording (``metrics``) so it can be tested on its own: it knows metric
families and samples, not where the numbers come from. Each family gets ``# HELP`` and
``# TYPE`` lines and then its samples, ``name{label="value",...} value``, one per line, with
values written as Go's parser reads them (``+Inf``, ``-Inf``, ``NaN``). Standard library only.
"""
from __future__ import annotations

import math
from typing import Dict, List, NamedTuple, Tuple

# (suffix added to the family name, e.g. "_bucket"; labels; value)
Sample = Tuple[str, Dict[str, str], float]


class Family(NamedTuple):
    name: str
    type: str  # counter, gauge, histogram, summary or untyped
    help: str
    samples: List[Sample]


def format_value(value: float) -> str:
    """A sample value: whole numbers without a fraction, others as Python's shortest repr."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def sample_line(name: str, labels: Dict[str, str], value: float) -> str:
    if not labels:
        return f"{name} {format_value(value)}"
    pairs = ",".join(f'{key}="{escape_label(text)}"' for key, text in labels.items())
    return f"{name}{{{pairs}}} {format_value(value)}"


def render(families: List[Family]) -> bytes:
    """The exposition text of ``families``, in their order, UTF-8 encoded."""
    lines: List[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.type}")
        lines.extend(sample_line(family.name + suffix, labels, value)
                     for suffix, labels, value in family.samples)
    return ("\n".join(lines) + "\n").encode("utf-8")
