"""A reader for the YAML subset PyYAML's ``safe_dump`` writes (spec 12.5), stdlib only.

MLflow writes MLmodel with ``safe_dump(default_flow_style=False)`` and reads it back with
``safe_load``. tinyserve must not need PyYAML, so this module reads exactly that subset: block
mappings, indentless block sequences, ``{}``/``[]``, plain scalars resolved the YAML-1.1 way
PyYAML resolves them, and folded single- and double-quoted scalars. Anything outside the subset
(anchors, tags, block literals, flow collections with content, ...) is refused with an error
naming the line, never guessed at.

It is about 450 lines, over the project's usual 400, on purpose: one grammar read by one
reader class; split, the line-tracking state would have to cross module boundaries.
"""
from __future__ import annotations

import datetime
import re
from typing import Any, List, Optional, Tuple

from tinyserve.errors import ModelLoadError


class MLmodelSyntaxError(ModelLoadError):
    """The MLmodel text is outside the supported YAML subset; the message names the line."""


# --- plain scalar resolution: PyYAML's YAML-1.1 implicit resolvers, in PyYAML's order -------

_BOOL_VALUES = {
    "yes": True, "Yes": True, "YES": True, "true": True, "True": True, "TRUE": True,
    "on": True, "On": True, "ON": True,
    "no": False, "No": False, "NO": False, "false": False, "False": False, "FALSE": False,
    "off": False, "Off": False, "OFF": False,
}
_NULL_VALUES = {"", "~", "null", "Null", "NULL"}
_FLOAT_RE = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
        |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
        |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_INT_RE = re.compile(
    r"""^(?:[-+]?0b[0-1_]+
        |[-+]?0[0-7_]+
        |[-+]?(?:0|[1-9][0-9_]*)
        |[-+]?0x[0-9a-fA-F_]+
        |[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$""",
    re.X,
)
_TIMESTAMP_RE = re.compile(
    r"""^(?P<year>[0-9][0-9][0-9][0-9])-(?P<month>[0-9][0-9]?)-(?P<day>[0-9][0-9]?)
        (?:(?:[Tt]|[ \t]+)(?P<hour>[0-9][0-9]?):(?P<minute>[0-9][0-9]):(?P<second>[0-9][0-9])
        (?:\.(?P<fraction>[0-9]*))?
        (?:[ \t]*(?P<tz>Z|(?P<tz_sign>[-+])(?P<tz_hour>[0-9][0-9]?)(?::(?P<tz_minute>[0-9][0-9]))?))?)?$""",
    re.X,
)
# The date-only form must have two-digit month and day to be a timestamp (PyYAML's resolver).
_DATE_ONLY_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")

# Double-quoted escapes (PyYAML's ESCAPE_REPLACEMENTS and ESCAPE_CODES).
_ESCAPES = {
    "0": "\0", "a": "\x07", "b": "\x08", "t": "\t", "\t": "\t", "n": "\n", "v": "\x0b",
    "f": "\x0c", "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\",
    "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029",
}
_HEX_ESCAPE_LENGTHS = {"x": 2, "u": 4, "U": 8}

# First characters that cannot start a plain scalar, with the reason shown in the error.
_REFUSED_STARTS = {
    "&": "anchor", "*": "alias", "!": "tag", "|": "block literal scalar",
    ">": "block folded scalar", "%": "directive", "@": "reserved indicator '@'",
    "`": "reserved indicator '`'", ",": "',' cannot start a value",
}


def _sexagesimal(text: str, number: type) -> Any:
    value = number(0)
    for part in text.split(":"):
        value = value * 60 + number(part)
    return value


def _construct_int(text: str) -> int:
    value = text.replace("_", "")
    sign = -1 if value[0] == "-" else 1
    if value[0] in "+-":
        value = value[1:]
    if value == "0":
        return 0
    if value.startswith("0b"):
        return sign * int(value[2:], 2)
    if value.startswith("0x"):
        return sign * int(value[2:], 16)
    if value[0] == "0":
        return sign * int(value, 8)
    if ":" in value:
        return sign * _sexagesimal(value, int)
    return sign * int(value)


def _construct_float(text: str) -> float:
    value = text.replace("_", "").lower()
    sign = -1.0 if value[0] == "-" else 1.0
    if value[0] in "+-":
        value = value[1:]
    if value == ".inf":
        return sign * float("inf")
    if value == ".nan":
        return float("nan")
    if ":" in value:
        return sign * _sexagesimal(value, float)
    return sign * float(value)


def _construct_timestamp(text: str) -> Any:
    parts = _TIMESTAMP_RE.match(text).groupdict()  # type: ignore[union-attr]
    year, month, day = int(parts["year"]), int(parts["month"]), int(parts["day"])
    if not parts["hour"]:
        return datetime.date(year, month, day)
    fraction = int((parts["fraction"] or "")[:6].ljust(6, "0"))
    tzinfo = None
    if parts["tz_sign"]:
        delta = datetime.timedelta(hours=int(parts["tz_hour"]), minutes=int(parts["tz_minute"] or 0))
        tzinfo = datetime.timezone(-delta if parts["tz_sign"] == "-" else delta)
    elif parts["tz"]:
        tzinfo = datetime.timezone.utc
    return datetime.datetime(year, month, day, int(parts["hour"]), int(parts["minute"]),
                             int(parts["second"]), fraction, tzinfo=tzinfo)


def resolve_plain_scalar(text: str) -> Any:
    """The value PyYAML ``safe_load`` gives an unquoted scalar (``ValueError`` if it refuses)."""
    if text in _BOOL_VALUES:
        return _BOOL_VALUES[text]
    if _FLOAT_RE.match(text):
        return _construct_float(text)
    if _INT_RE.match(text):
        return _construct_int(text)
    if text in ("<<", "="):
        raise ValueError("merge keys and value keys are not supported")
    if text in _NULL_VALUES:
        return None
    if _DATE_ONLY_RE.match(text) or (_TIMESTAMP_RE.match(text) and ":" in text):
        return _construct_timestamp(text)
    return text


# --- the block-structure reader -------------------------------------------------------------


def _is_document_marker(line: str) -> bool:
    return line[:3] in ("---", "...") and (len(line) == 3 or line[3] in " \t")


def _cut_comment(text: str) -> str:
    """Drop a trailing `` #...`` comment (a '#' preceded by whitespace) from plain text."""
    match = re.search(r"[ \t]#", text)
    return text[: match.start()] if match else text


class _Reader:
    """Recursive descent over lines; ``self.next_line`` is the first line not yet consumed."""

    def __init__(self, text: str, source: str) -> None:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        self.lines: List[str] = text[1:].split("\n") if text.startswith("\ufeff") else text.split("\n")
        self.source = source
        self.next_line = 0

    def fail(self, index: int, what: str, column: int = 0) -> MLmodelSyntaxError:
        snippet = self.lines[index][column:].strip() if index < len(self.lines) else ""
        if len(snippet) > 60:
            snippet = snippet[:57] + "..."
        return MLmodelSyntaxError(f"{self.source} line {index + 1}: unsupported YAML ({what}): {snippet!r}")

    def indent(self, index: int) -> int:
        line = self.lines[index]
        width = len(line) - len(line.lstrip(" "))
        if line[width:width + 1] == "\t":
            raise self.fail(index, "tab used for indentation")
        return width

    def is_blank(self, index: int) -> bool:
        return self.is_blank_text(self.lines[index])

    def skip_blank(self, index: int) -> int:
        while index < len(self.lines) and self.is_blank(index):
            index += 1
        return index

    # document ---------------------------------------------------------------------------

    def read_document(self) -> Any:
        first = self.skip_blank(0)
        if first < len(self.lines) and self.lines[first].startswith("%"):
            raise self.fail(first, "directive")
        if first < len(self.lines) and self.lines[first][:3] == "---" and _is_document_marker(self.lines[first]):
            self.lines[first] = "   " + self.lines[first][3:]
        self.next_line = first
        value = self.read_block(parent_indent=-1)
        rest = self.skip_blank(self.next_line)
        if rest < len(self.lines) and self.lines[rest][:3] == "..." and _is_document_marker(self.lines[rest]):
            if not self.is_blank_text(self.lines[rest][3:]):
                raise self.fail(rest, "content after document end marker")
            rest = self.skip_blank(rest + 1)
        if rest < len(self.lines):
            if _is_document_marker(self.lines[rest]):
                raise self.fail(rest, "multiple documents")
            raise self.fail(rest, "unexpected indentation or content")
        return value

    @staticmethod
    def is_blank_text(text: str) -> bool:
        text = text.strip(" \t")
        return not text or text.startswith("#")

    # block nodes ------------------------------------------------------------------------

    def read_block(self, parent_indent: int) -> Any:
        """The node starting at the next non-blank line if it is indented deeper than its parent."""
        index = self.skip_blank(self.next_line)
        if index >= len(self.lines):
            return None
        column = self.indent(index)
        if column <= parent_indent:
            return None
        if parent_indent < 0 and column == 0 and _is_document_marker(self.lines[index]):
            return None
        if self.is_indicator(index, column, "-"):
            return self.read_sequence(index, column)
        if self.is_indicator(index, column, "?") or self.find_key(index, column) is not None:
            return self.read_mapping(index, column)
        return self.read_inline_value(index, column, parent_indent)

    def read_sequence(self, index: int, column: int) -> list:
        items = []
        while True:
            index = self.skip_blank(self.next_line)
            if index >= len(self.lines) or self.indent(index) != column:
                break
            if not self.is_indicator(index, column, "-"):
                break
            items.append(self.read_indicated_node(index, column))
        self.check_no_deeper(index, column)
        return items

    def read_mapping(self, index: int, column: int) -> dict:
        mapping: dict = {}
        while True:
            index = self.skip_blank(self.next_line)
            if index >= len(self.lines) or self.indent(index) < column:
                break
            if self.indent(index) > column:
                raise self.fail(index, "unexpected indentation")
            if column == 0 and _is_document_marker(self.lines[index]):
                break
            if self.is_indicator(index, column, "?"):
                key, value = self.read_explicit_entry(index, column)
                mapping[key] = value
                continue
            found = self.find_key(index, column)
            if found is None:
                raise self.fail(index, "expected 'key: value' in a mapping", column)
            key, value_column = found
            line = self.lines[index]
            if self.is_blank_text(line[value_column:]):
                self.next_line = index + 1
                following = self.skip_blank(index + 1)
                if (following < len(self.lines) and self.indent(following) == column
                        and self.is_indicator(following, column, "-")):
                    value = self.read_sequence(following, column)
                else:
                    value = self.read_block(parent_indent=column)
            else:
                start = len(line) - len(line[value_column:].lstrip(" \t"))
                value = self.read_inline_value(index, start, parent_indent=column)
            mapping[key] = value
        return mapping

    def is_indicator(self, index: int, column: int, indicator: str) -> bool:
        line = self.lines[index]
        return line.startswith(indicator, column) and (len(line) == column + 1 or line[column + 1] in " \t")

    def read_indicated_node(self, index: int, column: int) -> Any:
        """The node after a ``?``/``:``/``-`` indicator, read as if the indicator were indentation."""
        line = self.lines[index]
        if self.is_blank_text(line[column + 1:]):
            self.next_line = index + 1
        else:
            self.lines[index] = " " * (column + 1) + line[column + 1:]
            self.next_line = index
        return self.read_block(parent_indent=column)

    def read_explicit_entry(self, index: int, column: int) -> Tuple[Any, Any]:
        """``? key`` then ``: value`` (PyYAML writes empty and very long keys this way)."""
        key = self.read_indicated_node(index, column)
        if isinstance(key, (list, dict)):
            raise self.fail(index, "collection used as a mapping key", column)
        following = self.skip_blank(self.next_line)
        if (following < len(self.lines) and self.indent(following) == column
                and self.is_indicator(following, column, ":")):
            return key, self.read_indicated_node(following, column)
        return key, None

    def check_no_deeper(self, index: int, column: int) -> None:
        if index < len(self.lines) and self.indent(index) > column:
            raise self.fail(index, "unexpected indentation")

    def find_key(self, index: int, column: int) -> Optional[Tuple[Any, int]]:
        """``(key, column after ':')`` if the line holds ``key:`` at ``column``, else None."""
        line = self.lines[index]
        first = line[column]
        if first in "'\"":
            text, end_index, end_column = self.scan_quoted(index, column)
            rest = line[end_column:] if end_index == index else ""
            stripped = rest.lstrip(" \t")
            if end_index == index and stripped.startswith(":") and (len(stripped) == 1 or stripped[1] in " \t"):
                return text, len(line) - len(stripped) + 1
            return None
        if first in _REFUSED_STARTS or first in "[{#":
            return None
        body = _cut_comment(line[column:])
        match = re.search(r":(?:[ \t]|$)", body)
        if match is None:
            return None
        key_text = body[: match.start()].rstrip(" \t")
        try:
            key = resolve_plain_scalar(key_text)
        except ValueError as exc:
            raise self.fail(index, str(exc), column) from None
        return key, column + match.start() + 1

    # scalars and empty flow collections -------------------------------------------------

    def read_inline_value(self, index: int, column: int, parent_indent: int) -> Any:
        line = self.lines[index]
        first = line[column]
        if first in "'\"":
            value, end_index, end_column = self.scan_quoted(index, column)
            if not self.is_blank_text(self.lines[end_index][end_column:]):
                raise self.fail(end_index, "unexpected text after a quoted scalar", end_column)
            self.next_line = end_index + 1
            return value
        if first in "[{":
            rest = line[column:]
            empty = "[]" if first == "[" else "{}"
            if rest.startswith(empty) and self.is_blank_text(rest[2:]):
                self.next_line = index + 1
                return [] if first == "[" else {}
            kind = "flow sequence with content" if first == "[" else "flow mapping with content"
            raise self.fail(index, kind, column)
        if first in _REFUSED_STARTS:
            raise self.fail(index, _REFUSED_STARTS[first], column)
        if first in "-?:" and (len(line) == column + 1 or line[column + 1] in " \t"):
            raise self.fail(index, f"'{first}' indicator not allowed here", column)
        return self.read_plain(index, column, parent_indent)

    def plain_line_text(self, index: int, column: int) -> str:
        text = _cut_comment(self.lines[index][column:])
        if re.search(r":(?:[ \t]|$)", text):
            raise self.fail(index, "mapping value not allowed here (': ' inside a plain value)", column)
        return text.strip(" \t")

    def read_plain(self, index: int, column: int, parent_indent: int) -> Any:
        """A plain scalar, folded over more-indented lines; a comment ends it."""
        raw = self.lines[index][column:]
        parts = [self.plain_line_text(index, column)]
        self.next_line = cursor = index + 1
        empty_lines = 0
        while cursor < len(self.lines) and _cut_comment(raw) == raw:
            line = self.lines[cursor]
            if not line.strip(" \t"):
                empty_lines += 1
                cursor += 1
                continue
            line_indent = self.indent(cursor)
            if line_indent <= parent_indent or line[line_indent] == "#":
                break
            if line_indent == 0 and _is_document_marker(line):
                break
            raw = line[line_indent:]
            parts.append("\n" * empty_lines if empty_lines else " ")
            parts.append(self.plain_line_text(cursor, line_indent))
            empty_lines = 0
            self.next_line = cursor = cursor + 1
        try:
            return resolve_plain_scalar("".join(parts))
        except ValueError as exc:
            raise self.fail(index, str(exc), column) from None

    def scan_quoted(self, index: int, column: int) -> Tuple[str, int, int]:
        """Read a single- or double-quoted scalar: ``(value, end line, column after the quote)``."""
        quote = self.lines[index][column]
        double = quote == '"'
        chunks: List[str] = []
        line_index, position = index, column + 1
        while True:
            line = self.lines[line_index]
            escaped_break = False
            while position < len(line):
                char = line[position]
                if char == quote:
                    if not double and line.startswith("''", position):
                        chunks.append("'")
                        position += 2
                        continue
                    return "".join(chunks), line_index, position + 1
                if char in " \t":
                    end = position
                    while end < len(line) and line[end] in " \t":
                        end += 1
                    if end < len(line):  # whitespace before a line break is dropped
                        chunks.append(line[position:end])
                    position = end
                    continue
                if double and char == "\\":
                    code = line[position + 1:position + 2]
                    if not code:
                        escaped_break = True
                        break
                    if code in _ESCAPES:
                        chunks.append(_ESCAPES[code])
                        position += 2
                        continue
                    if code in _HEX_ESCAPE_LENGTHS:
                        digits = line[position + 2:position + 2 + _HEX_ESCAPE_LENGTHS[code]]
                        if len(digits) != _HEX_ESCAPE_LENGTHS[code] or not re.fullmatch(r"[0-9A-Fa-f]+", digits):
                            raise self.fail(line_index, "bad escape in a double-quoted scalar", position)
                        chunks.append(chr(int(digits, 16)))
                        position += 2 + len(digits)
                        continue
                    raise self.fail(line_index, "unknown escape in a double-quoted scalar", position)
                chunks.append(char)
                position += 1
            line_index += 1
            empty_lines = 0
            while line_index < len(self.lines) and not self.lines[line_index].strip(" \t"):
                empty_lines += 1
                line_index += 1
            if line_index >= len(self.lines):
                raise self.fail(index, "unterminated quoted scalar", column)
            if _is_document_marker(self.lines[line_index]):
                raise self.fail(line_index, "document marker inside a quoted scalar")
            # an escaped break joins with nothing; a plain one folds to a space (or the newlines)
            chunks.append("\n" * empty_lines if empty_lines or escaped_break else " ")
            next_line = self.lines[line_index]
            position = len(next_line) - len(next_line.lstrip(" \t"))


def parse_yaml(text: str, source: str = "MLmodel") -> Any:
    """Parse one YAML document of the ``safe_dump`` subset; ``source`` prefixes error messages."""
    return _Reader(text, source).read_document()
