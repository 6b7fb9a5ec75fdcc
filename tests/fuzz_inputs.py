"""Generators of hostile input for tests/test_fuzz.py.

``bodies_and_types()`` is a hypothesis strategy of (request body, Content-Type) pairs for the
decoder: random bytes, JSON documents built from the protocol's own keys and the fixtures'
column and param names with hostile values (huge integers, NaN, deep nesting, wrong types),
mutated (truncated, bytes flipped, re-encoded), CSV and Parquet variants, and every kind of
body under every kind of Content-Type. ``RawRequests`` is a seeded generator of whole HTTP
requests for a live server, malformed at every layer: request line, headers, framing, body.
"""
from __future__ import annotations

import json
import random
from typing import Any, Callable, List, Optional, Tuple

from hypothesis import strategies as st

FORMAT_KEYS = ["dataframe_split", "dataframe_records", "instances", "inputs"]
LLM_KEYS = ["messages", "prompt", "input"]
INNER_KEYS = ["columns", "data", "index", "params", "role", "content"]
COLUMNS = ["a", "b", "bo", "i32", "i64", "f32", "f64", "s", "bin", "dt", "opt", "arr", "obj",
           "m", "any", "age", "name", "x", "0", ""]
PARAMS = ["kind", "temperature", "max_tokens", "flag", "when", "ids"]
# pyfunc_params' `kind` picks its output; "sleep" (a deliberate hang) is left out
KINDS = ["echo", "np_int", "df_nan", "series", "float_special", "datetime_ns", "bytes",
         "object_array", "mixed_list", "dict", "none", "string", "timestamp", "tuple", "set",
         "decimal", "df_predictions_col", "raise_value", "raise_mlflow", "no_such_kind"]
KEYS = FORMAT_KEYS + LLM_KEYS + INNER_KEYS + COLUMNS + PARAMS
TEXTS = ["", "true", "false", "NaN", "Infinity", "1e400", "2024-01-02", "2024-01-02T03:04:05Z",
         "aGVsbG8=", "\u0000", "\ud800", "caf\u00e9", "9" * 400, "-0", "0x10"] + KINDS
EDGE_INTS = [0, -1, 2 ** 31, -2 ** 31 - 1, 2 ** 53 + 1, 2 ** 63, -2 ** 63 - 1, 2 ** 64, 10 ** 400]

CONTENT_TYPES = [
    "application/json", "text/csv", "application/csv", "application/vnd.apache.parquet",
    "APPLICATION/JSON", "application/json; charset=utf-8", 'application/json;charset="UTF-8"',
    "application/json;", "application/json; charset=latin-1", "text/csv; charset=utf-16",
    "application/json; format=pandas-split", "application/json; format=pandas-records",
    "text/csv; header=present", "application/x-www-form-urlencoded", "multipart/form-data",
    "text/plain", "application/octet-stream", "application/parquet", "json", "", ";", "=;=",
    "application/json; charset", "application/json; =utf-8", "text/csv;;;", "*/*",
]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.sampled_from(EDGE_INTS),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(TEXTS),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=6))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)
rows = st.lists(st.lists(scalars, max_size=4), max_size=4)
params = st.dictionaries(st.sampled_from(PARAMS), st.one_of(values, st.sampled_from(KINDS)),
                         max_size=3)


@st.composite
def documents(draw: Callable) -> Any:
    """A JSON document shaped like a scoring request, with something wrong (or not)."""
    shape = draw(st.integers(0, 7))
    if shape == 0:
        doc: Any = {"dataframe_split": draw(st.fixed_dictionaries(
            {}, optional={"columns": st.one_of(st.lists(st.sampled_from(COLUMNS), max_size=5),
                                               values),
                          "data": st.one_of(rows, values), "index": values}))}
    elif shape == 1:
        doc = {"dataframe_records": draw(st.one_of(
            st.lists(st.dictionaries(st.sampled_from(COLUMNS), values, max_size=5), max_size=4),
            values))}
    elif shape == 2:
        doc = {draw(st.sampled_from(["inputs", "instances"])): draw(st.one_of(
            values, rows, st.dictionaries(st.sampled_from(COLUMNS), values, max_size=4)))}
    elif shape == 3:
        doc = draw(st.dictionaries(st.sampled_from(LLM_KEYS + PARAMS), values, min_size=1,
                                   max_size=4))
    elif shape == 4:
        doc = draw(st.dictionaries(keys, values, max_size=5))  # any keys: none, two formats...
    elif shape == 5:
        doc = {"inputs": [{"name": draw(values), "age": draw(values)}]}  # the pydantic hint
    else:
        doc = draw(values)  # a list, a scalar, ...
    if isinstance(doc, dict) and draw(st.booleans()):
        doc["params"] = draw(st.one_of(params, values))
    return doc


def encode(doc: Any) -> bytes:
    return json.dumps(doc, allow_nan=True).encode("utf-8", "surrogatepass")


def deep(depth: int, opener: bytes = b"[") -> bytes:
    closer = b"]" if opener == b"[" else b"}"
    if opener == b"{":
        return b'{"a":' * depth + b"1" + closer * depth
    return opener * depth + closer * depth


@st.composite
def mutated(draw: Callable, body: bytes) -> bytes:
    """``body`` truncated, with bytes flipped or inserted, re-encoded, or as it is."""
    how = draw(st.integers(0, 6))
    if not body or how == 0:
        return body
    at = draw(st.integers(0, len(body)))
    if how == 1:
        return body[:at]
    if how == 2:
        flip = draw(st.integers(0, 255))
        return body[:at] + bytes([flip]) + body[at + 1:]
    if how == 3:
        return body[:at] + draw(st.sampled_from([b"\x00", b"\xff", b"\"", b",", b"]", b"}",
                                                 b"\\u", b"\r\n", b"\xef\xbb\xbf"])) + body[at:]
    if how == 4:
        return body.decode("utf-8", "replace").encode(draw(st.sampled_from(
            ["utf-16", "utf-16-be", "utf-32", "utf-8-sig"])), "surrogatepass")
    if how == 5:
        return body * 2
    return b"\xef\xbb\xbf" + body


def csv_bodies() -> st.SearchStrategy:
    cell = st.one_of(st.sampled_from(TEXTS + ["", '"', '""', "a,b", "1.5", "nan", "\x00"]),
                     st.integers().map(str), st.floats().map(repr), st.text(max_size=6))
    line = st.lists(cell, max_size=5).map(",".join)
    head = st.lists(st.sampled_from(COLUMNS), max_size=5).map(",".join)
    return st.tuples(head, st.lists(line, max_size=5)).map(
        lambda parts: ("\n".join([parts[0], *parts[1]]) + "\n").encode("utf-8",
                                                                        "surrogatepass"))


def bodies(parquet_sample: bytes) -> st.SearchStrategy:
    json_bodies = documents().map(encode)
    return st.one_of(
        json_bodies.flatmap(mutated),
        json_bodies,
        csv_bodies().flatmap(mutated),
        st.just(parquet_sample).flatmap(mutated),
        st.binary(max_size=64),
        st.tuples(st.integers(1, 300_000), st.sampled_from([b"[", b"{"])).map(
            lambda pair: b'{"inputs": ' + deep(*pair) + b"}"),
        st.integers(1, 5000).map(lambda n: b'{"inputs": [' + b"9" * n + b"]}"),
        st.sampled_from([b'{"inputs": [1e999, -1e999, NaN]}', b'{"inputs": [-0.0, 1E-400]}',
                         b'{"dataframe_split": {"columns": ["a"], "data": [[1e400]]}}',
                         b"", b"null", b"{}", b"[]", b'"x"', b"\xef\xbb\xbf{}"]),
    )


VALID_TYPES = ["application/json", "text/csv", "application/csv",
               "application/vnd.apache.parquet"]
content_types = st.one_of(st.sampled_from(VALID_TYPES), st.sampled_from(VALID_TYPES),
                          st.sampled_from(CONTENT_TYPES), st.none(), st.text(max_size=20))


def cases(parquet_sample: bytes, models: int) -> st.SearchStrategy:
    """(model number, body, Content-Type, salt): ``variants`` turns each into ~10 inputs."""
    return st.tuples(st.integers(0, models - 1), bodies(parquet_sample), content_types,
                     st.integers(0, 2 ** 16))


def variants(body: bytes, content_type: Optional[str], salt: int
             ) -> List[Tuple[bytes, Optional[str]]]:
    """``body`` as drawn, under every valid Content-Type (a valid-looking body, the wrong
    type), and cut, with a byte changed, dropped or repeated (cheap: hypothesis draws are
    the slow part)."""
    out = [(body, content_type)] + [(body, kind) for kind in VALID_TYPES if kind != content_type]
    size = len(body)
    if size:
        at = salt % size
        out += [(body[:size // 2], content_type), (body[:size - 1], content_type),
                (body[:at] + bytes([salt % 256]) + body[at + 1:], content_type),
                (body[:at] + body[at + 1:], content_type),
                (body + body[at:], content_type)]
    return out


# --------------------------------------------------------------------------------------------
# Whole requests for a live server (seeded random; no hypothesis: many per second)
# --------------------------------------------------------------------------------------------

METHODS = ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "FOO", "post",
           "P\x00ST", "POST POST", "", "G\xe9T"]
TARGETS = ["/invocations", "/ping", "/health", "/version", "//invocations", "/invocations/",
           "*", "http://127.0.0.1/invocations", "/%00", "/%ff%fe", "/../../etc/passwd",
           "/invocations?x=" + "a" * 5000, "/\x7f", "/ready", "/live", "/metrics"]
VERSIONS = ["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/0.9", "HTTP/1.1x", "", "http/1.1",
            "HTTP/9.9"]


class RawRequests:
    """``next()`` gives (request bytes, what kind of malformation) from a fixed seed."""

    def __init__(self, seed: int, sample_bodies: List[bytes]) -> None:
        self.rng = random.Random(seed)
        self.sample_bodies = sample_bodies  # valid-looking bodies to mutate or mislabel
        self.makers = [getattr(self, name) for name in sorted(dir(self))
                       if name.startswith("make_")]
        self.incomplete = False  # set by a maker whose request lacks bytes it announces

    def next(self) -> Tuple[bytes, str, bool]:
        """(request bytes, kind of malformation, known to be incomplete)."""
        maker = self.rng.choice(self.makers)
        self.incomplete = False
        data = maker()
        return data, maker.__name__[5:], self.incomplete

    # ------------------------------------------------------------- pieces
    def body(self) -> bytes:
        rng = self.rng
        pick = rng.random()
        if pick < 0.5:
            body = rng.choice(self.sample_bodies)
        elif pick < 0.7:
            body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64)))
        elif pick < 0.8:
            body = b'{"inputs": ' + deep(rng.choice([10, 1000, 100_000]), b"[") + b"}"
        elif pick < 0.9:
            body = b"{\"inputs\": [" + b"9" * rng.randint(20, 6000) + b"]}"
        else:
            body = rng.choice(self.sample_bodies)
            at = rng.randint(0, len(body))
            body = body[:at] + bytes([rng.getrandbits(8)]) + body[at + 1:]
        return body

    def content_type(self) -> Optional[str]:
        return self.rng.choice(CONTENT_TYPES + [None])

    def head(self, method: str = "POST", target: str = "/invocations",
             version: str = "HTTP/1.1", extra: Optional[List[str]] = None,
             content_type: Optional[str] = "application/json") -> List[str]:
        lines = [f"{method} {target} {version}", "Host: 127.0.0.1"]
        if content_type is not None:
            lines.append(f"Content-Type: {content_type}")
        return lines + (extra or [])

    @staticmethod
    def join(lines: List[str], body: bytes = b"") -> bytes:
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + body

    # ------------------------------------------------------------- malformations
    def make_body_and_type(self) -> bytes:
        """A well-framed request with a hostile body and any Content-Type."""
        body = self.body()
        return self.join(self.head(content_type=self.content_type(),
                                   extra=[f"Content-Length: {len(body)}"]), body)

    def make_request_line(self) -> bytes:
        rng = self.rng
        line = f"{rng.choice(METHODS)} {rng.choice(TARGETS)} {rng.choice(VERSIONS)}"
        if rng.random() < 0.3:
            line = rng.choice([line.replace(" ", "  "), line.replace(" ", "\t"), line + " x",
                               line.split(" ")[0], "\x00" * 10, " " + line, line + "\n"])
        body = self.body()
        return self.join([line, "Host: 127.0.0.1", f"Content-Length: {len(body)}"], body)

    def make_headers(self) -> bytes:
        rng = self.rng
        body = self.body()
        extra = [f"Content-Length: {len(body)}"]
        kind = rng.randint(0, 7)
        if kind == 0:
            extra.append("X-Big: " + "a" * rng.choice([1000, 70_000, 200_000]))
        elif kind == 1:
            extra += [f"X-Many-{n}: {n}" for n in range(rng.choice([50, 500, 3000]))]
        elif kind == 2:
            extra += ["Content-Type: text/csv", "Content-Type: application/json"]
        elif kind == 3:
            extra.append(rng.choice(["No-Colon-Here", ": empty-name", "Bad Name: x",
                                     "X-Ctl: a\x01b", "X-Nul: \x00", "X-Fold: a\r\n folded",
                                     "X-Utf8: caf\xe9", "Host: a", "Host:"]))
        elif kind == 4:
            extra.append(f"X-Request-ID: {rng.choice(['', 'x' * 500, 'a b', '%00', 'é'])}")
        elif kind == 5:
            extra.append(rng.choice(["Expect: 100-continue", "Expect: nonsense",
                                     "Connection: close", "Connection: upgrade",
                                     "Upgrade: websocket", "Transfer-Encoding: gzip"]))
        elif kind == 6:
            extra.append(rng.choice(["Authorization: Bearer x", "Origin: http://evil",
                                     "X-Forwarded-For: 1.2.3.4, ::1", "Forwarded: for=x"]))
        else:
            extra.append("X-" + "".join(chr(rng.randint(33, 126)) for _ in range(8)) + ": "
                         + "".join(chr(rng.randint(32, 255)) for _ in range(20)))
        return self.join(self.head(extra=extra, content_type=self.content_type()), body)

    def make_content_length(self) -> bytes:
        rng = self.rng
        body = self.body()
        value = rng.choice(["-1", "abc", "1.5", "0x10", "+5", " 5", "99999999999999999999",
                            str(len(body) + rng.randint(1, 50)), str(max(0, len(body) - 3)),
                            f"{len(body)}, {len(body)}", "", str(2 ** 64)])
        self.incomplete = value.strip().isdigit() and int(value) > len(body)
        extra = [f"Content-Length: {value}"]
        if rng.random() < 0.3:
            extra.append(f"Content-Length: {len(body) + 1}")
        return self.join(self.head(extra=extra), body)

    def make_chunked(self) -> bytes:
        rng = self.rng
        body = self.body()
        chunks = b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
        kind = rng.randint(0, 7)
        if kind == 0:
            chunks = b"zz\r\n" + body + b"\r\n0\r\n\r\n"  # bad chunk size
        elif kind == 1:
            chunks = chunks[:-5]  # no last chunk
        elif kind == 2:
            chunks = b"%x\r\n" % (len(body) + 10) + body + b"\r\n0\r\n\r\n"  # size too big
        elif kind == 3:
            chunks = b"%x;ext=1\r\n" % len(body) + body + b"\r\n0\r\nTrailer: x\r\n\r\n"
        elif kind == 4:
            chunks = b"ffffffffffffffffff\r\n" + body
        elif kind == 5:
            chunks = b"%x\n" % len(body) + body + b"\n0\n\n"  # bare LF
        self.incomplete = kind in (1, 2, 4, 5)
        extra = [rng.choice(["Transfer-Encoding: chunked", "Transfer-Encoding: chunked, gzip",
                             "Transfer-Encoding: CHUNKED", "Transfer-Encoding:  chunked "])]
        if rng.random() < 0.3:
            extra.append(f"Content-Length: {len(chunks)}")  # both: request smuggling shape
        return self.join(self.head(extra=extra), b"") + chunks

    def make_truncated(self) -> bytes:
        """A request cut anywhere, then the client half-closes."""
        whole = self.make_body_and_type()
        self.incomplete = True
        return whole[:self.rng.randint(1, max(1, len(whole) - 1))]

    def make_random_bytes(self) -> bytes:
        rng = self.rng
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300))) + b"\r\n\r\n"
