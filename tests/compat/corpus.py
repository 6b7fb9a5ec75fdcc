"""The request corpus: every case is plain data (model, method, path, exact headers, body bytes).

The sections live in `corpus_protocol` (endpoints, Content-Type, JSON decoding), `corpus_inputs`
(input formats, conversions, complex values, tensors, CSV, Parquet) and `corpus_models`
(params, unified LLM payloads, type-hint models, response encodings, timeout, other flavors).
Each case names the fixture model it is sent to (`tests/fixtures/models/<model>`) and, where the
spec's checklist (section 18) has an item for it, the item number and the status the spec
predicts; the harness reports where real MLflow answers another status than the spec says.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

JSON = "application/json"
CSV = "text/csv"
PARQUET = "application/vnd.apache.parquet"

Headers = Tuple[Tuple[str, str], ...]
DEFAULT_SERVER = "default"
TIMEOUT_SERVER = "timeout"
TIMEOUT_ENV_SERVER = "timeout_env"
NO_SCHEMA_DETAILS_SERVER = "no_schema_details"
# server variant -> (extra command-line flags, extra environment), the same for
# `mlflow models serve` and tinyserve; each variant used costs one more pair of servers
SERVER_VARIANTS: Dict[str, Tuple[Tuple[str, ...], Dict[str, str]]] = {
    DEFAULT_SERVER: ((), {}),
    TIMEOUT_SERVER: (("-t", "2"), {}),
    # `-t 0` counts as not given: the limit comes from the environment (spec 11)
    TIMEOUT_ENV_SERVER: (("-t", "0"), {"MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT": "1"}),
    NO_SCHEMA_DETAILS_SERVER: ((), {"MLFLOW_DISABLE_SCHEMA_DETAILS": "true"}),
}


@dataclass(frozen=True)
class Case:
    """One request, sent byte for byte to both servers."""

    id: str
    model: str
    body: Optional[bytes] = None
    headers: Headers = (("Content-Type", JSON),)
    method: str = "POST"
    path: str = "/invocations"
    server: str = DEFAULT_SERVER
    item: Optional[int] = None  # spec section 18 checklist item
    spec_status: Optional[int] = None  # the status the spec predicts, if it says

    @property
    def content_type(self) -> Optional[str]:
        for name, value in self.headers:
            if name.lower() == "content-type":
                return value
        return None

    def with_content_type(self, value: Optional[str]) -> "Case":
        """The same request with another Content-Type header (``None``: no header at all)."""
        others = tuple((n, v) for n, v in self.headers if n.lower() != "content-type")
        headers = others if value is None else (("Content-Type", value),) + others
        return Case(self.id, self.model, self.body, headers, self.method, self.path, self.server,
                    self.item, self.spec_status)

    def with_method(self, method: str, body: Optional[bytes] = None) -> "Case":
        return Case(self.id, self.model, body, self.headers, method, self.path, self.server,
                    self.item, self.spec_status)


def dumps(payload: Any) -> bytes:
    """JSON as a client library writes it (Python defaults: `NaN`/`Infinity` allowed)."""
    return json.dumps(payload).encode("utf-8")


def js(case_id: str, model: str, payload: Any, item: Optional[int] = None,
       status: Optional[int] = None, content_type: Optional[str] = JSON,
       server: str = DEFAULT_SERVER, path: str = "/invocations") -> Case:
    """A POST of ``payload`` encoded as JSON."""
    return raw(case_id, model, dumps(payload), content_type, item, status, server, path)


def raw(case_id: str, model: str, body: bytes, content_type: Optional[str] = JSON,
        item: Optional[int] = None, status: Optional[int] = None,
        server: str = DEFAULT_SERVER, path: str = "/invocations") -> Case:
    """A POST of exact body bytes; ``content_type=None`` sends no Content-Type header."""
    headers: Headers = () if content_type is None else (("Content-Type", content_type),)
    return Case(case_id, model, body, headers, "POST", path, server, item, status)


def csv(case_id: str, model: str, text: str, item: Optional[int] = None,
        status: Optional[int] = None, content_type: str = CSV) -> Case:
    return raw(case_id, model, text.encode("utf-8"), content_type, item, status)


def bare(case_id: str, model: str, method: str, path: str, item: Optional[int] = None,
         status: Optional[int] = None) -> Case:
    """A request without body or headers (GET /ping and friends)."""
    return Case(case_id, model, None, (), method, path, DEFAULT_SERVER, item, status)


def split(columns: Optional[Sequence[Any]], data: Any, **extra: Any) -> Dict[str, Any]:
    """``{"dataframe_split": {...}}``; ``columns=None`` leaves the key out."""
    value: Dict[str, Any] = dict(extra)
    if columns is not None:
        value["columns"] = list(columns)
    value["data"] = data
    return {"dataframe_split": value}


def parquet_support() -> bool:
    """Parquet bodies are built in this process with pandas + pyarrow, when both import."""
    import importlib.util

    return all(importlib.util.find_spec(name) for name in ("pandas", "pyarrow"))


def parquet(case_id: str, model: str, columns: Dict[str, Tuple[Sequence[Any], str]],
            item: Optional[int] = None, status: Optional[int] = None) -> Case:
    """A Parquet body built from ``{column: (values, dtype)}`` (index not written)."""
    import io

    import pandas as pd

    frame = pd.DataFrame({name: pd.Series(values, dtype=dtype)
                          for name, (values, dtype) in columns.items()})
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return raw(case_id, model, buffer.getvalue(), PARQUET, item, status)


# fixture -> modules its model needs in tinyserve's Python besides tinyserve's test extras
MODEL_NEEDS: Dict[str, Tuple[str, ...]] = {"pyfunc_typehint_pydantic": ("pydantic",)}


def runnable(cases: Sequence[Case]) -> Tuple[List[Case], Dict[str, str]]:
    """The cases whose model can load here, and {model: why not} for the others."""
    import importlib.util

    skipped: Dict[str, str] = {}
    for model, modules in MODEL_NEEDS.items():
        missing = [name for name in modules if importlib.util.find_spec(name) is None]
        if missing:
            skipped[model] = f"needs {', '.join(missing)} in tinyserve's Python"
    return [case for case in cases if case.model not in skipped], skipped


def build_corpus() -> List[Case]:
    """Every case, grouped by model in a stable order; ids are unique."""
    from tests.compat import corpus_inputs, corpus_models, corpus_protocol

    cases: List[Case] = []
    for section in (corpus_protocol, corpus_inputs, corpus_models):
        cases.extend(section.cases())
    seen: Dict[str, Case] = {}
    for case in cases:
        if case.id in seen:
            raise ValueError(f"duplicate case id {case.id!r}")
        if case.server not in SERVER_VARIANTS:
            raise ValueError(f"case {case.id!r}: unknown server variant {case.server!r}")
        seen[case.id] = case
    return cases


def groups(cases: Sequence[Case]) -> List[Tuple[Tuple[str, str], List[Case]]]:
    """Cases by (model, server variant), in order of first appearance: one server pair each."""
    by_key: Dict[Tuple[str, str], List[Case]] = {}
    for case in cases:
        by_key.setdefault((case.model, case.server), []).append(case)
    return list(by_key.items())
