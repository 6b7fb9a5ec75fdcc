"""Answers in comparable form, and the comparison itself.

An answer (status, headers, body bytes) becomes a *form*: a small dict of what a client can rely
on: status, content type, `allow`/`location` headers, and the body as one of
`json` (a success body, parsed; `strict_json` says whether it was valid strict JSON),
`error` (an MLflow error body without `stack_trace`; `stack_trace` says whether one was there),
or `text`. Python-set renderings inside messages are put in a canonical order first, because
their order changes from one process to the next (spec section 0).

Expected values may hold compiled regular expressions where a deliberate difference leaves the
exact text to tinyserve (`differences.py`); floats agree within a relative 1e-9.
"""
from __future__ import annotations

import ast
import json
import math
import re
from typing import Any, Dict, NamedTuple, Optional

Form = Dict[str, Any]
Pattern = type(re.compile(""))


class Answer(NamedTuple):
    """What came back; status 0 means no HTTP answer at all (the body says why)."""

    status: int
    headers: Dict[str, str]
    body: bytes


# ------------------------------------------------------------------ canonical set order


def _closing_bracket(text: str, start: int) -> Optional[int]:
    """Index of the bracket closing the `{` or `[` at ``start`` (quotes and nesting respected),
    or None when it is not closed properly."""
    depth, quote, index = 0, "", start
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                return index if char == {"{": "}", "[": "]"}[text[start]] else None
        index += 1
    return None


_EXTRA_INPUTS = "extra inputs: ["  # a list MLflow builds from a set
_UNKNOWN_PARAMETERS = re.compile(r"(Unrecognized content type parameters: )(.*?)(\. IMPORTANT)",
                                 re.DOTALL)


def _sorted_literal(literal: str, kinds: tuple) -> Optional[str]:
    """``literal`` re-rendered with its elements sorted, if it is a set or list (per kinds)."""
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None
    if not isinstance(value, kinds):
        return None
    items = ", ".join(sorted(repr(item) for item in value))
    return "[" + items + "]" if isinstance(value, list) else "{" + items + "}"


def canonical_sets(text: str) -> str:
    """Sort the elements of every Python set rendering and of set-ordered lists in ``text``."""
    pieces, index = [], 0
    while index < len(text):
        char, replacement, end = text[index], None, None
        list_from_set = char == "[" and text.endswith(_EXTRA_INPUTS, 0, index + 1)
        if char == "{" or list_from_set:
            end = _closing_bracket(text, index)
            if end is not None:
                kinds = (list,) if list_from_set else (set, frozenset)
                replacement = _sorted_literal(text[index:end + 1], kinds)
        if replacement is not None and end is not None:
            pieces.append(replacement)
            index = end + 1
        else:
            pieces.append(char)
            index += 1
    return _UNKNOWN_PARAMETERS.sub(
        lambda m: m.group(1) + ", ".join(sorted(m.group(2).split(", "))) + m.group(3),
        "".join(pieces))


# ------------------------------------------------------------------ answer -> form


def _parse_json(body: bytes) -> Any:
    """(value, strict): MLflow's bare NaN/Infinity tokens are accepted but noted."""
    tokens = []

    def constant(token: str) -> float:
        tokens.append(token)
        return float(token)

    return json.loads(body, parse_constant=constant), not tokens


def form_of(answer: Answer, port: int) -> Form:
    """The comparable form of an answer from the server listening on ``port``."""
    form: Form = {"status": answer.status,
                  "content_type": answer.headers.get("content-type", "").lower()}
    for header in ("allow", "location"):
        if header in answer.headers:
            form[header] = answer.headers[header].replace(f"127.0.0.1:{port}", "<server>")
    if answer.status == 0:
        form["text"] = answer.body.decode("utf-8", "replace")
        return form
    if form["content_type"].startswith("application/json"):
        try:
            value, strict = _parse_json(answer.body)
        except ValueError:
            pass
        else:
            if answer.status >= 400 and isinstance(value, dict) and "error_code" in value:
                form["error"] = {key: canonical_sets(item) if key == "message" else item
                                 for key, item in value.items() if key != "stack_trace"}
                form["stack_trace"] = "stack_trace" in value
            else:
                form["json"] = value
                form["strict_json"] = strict
            return form
    form["text"] = canonical_sets(answer.body.decode("utf-8", "replace"))
    return form


# ------------------------------------------------------------------ comparison


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numbers_differ(expected: Any, actual: Any) -> bool:
    if type(expected) is not type(actual):
        return True  # `1` and `1.0` are different JSON
    if isinstance(expected, int):
        return expected != actual
    if math.isnan(expected) or math.isnan(actual):
        return not (math.isnan(expected) and math.isnan(actual))
    return not math.isclose(expected, actual, rel_tol=1e-9, abs_tol=0.0)


def difference(expected: Any, actual: Any, where: str = "") -> Optional[str]:
    """None when ``actual`` satisfies ``expected``, else where and how they differ."""
    if isinstance(expected, Pattern):
        if isinstance(actual, str) and expected.fullmatch(actual):
            return None
        return f"{where or 'value'}: {actual!r} does not match /{expected.pattern}/"
    if _is_number(expected) and _is_number(actual):
        return f"{where or 'value'}: {expected!r} != {actual!r}" \
            if _numbers_differ(expected, actual) else None
    if isinstance(expected, dict) and isinstance(actual, dict):
        if list(expected) != list(actual):
            return f"{where or 'value'}: keys {list(expected)} != {list(actual)}"
        for key in expected:
            found = difference(expected[key], actual[key], f"{where}.{key}" if where else key)
            if found:
                return found
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return f"{where or 'value'}: length {len(expected)} != {len(actual)}"
        for index, (left, right) in enumerate(zip(expected, actual)):
            found = difference(left, right, f"{where}[{index}]")
            if found:
                return found
        return None
    if type(expected) is not type(actual) or expected != actual:
        return f"{where or 'value'}: {expected!r} != {actual!r}"
    return None


def form_difference(expected: Form, actual: Form) -> Optional[str]:
    """Compare two forms key by key (a key missing on one side is a difference)."""
    for key in list(expected) + [k for k in actual if k not in expected]:
        if key not in expected or key not in actual:
            shown = expected.get(key, actual.get(key))
            side = "tinyserve" if key in actual else "expected"
            return f"{key}: only {side} has it ({shown!r})"
        found = difference(expected[key], actual[key], key)
        if found:
            return found
    return None


def render(form: Form, limit: int = 600) -> str:
    """A form as one readable line (truncated)."""
    def plain(value: Any) -> Any:
        if isinstance(value, Pattern):
            return f"/{value.pattern}/"
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    text = json.dumps(plain(form), ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[:limit] + "..."
