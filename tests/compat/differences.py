"""tinyserve's deliberate differences from `mlflow models serve`, in one place.

Each rule has a name, the reason, the exact cases it applies to, and how it turns MLflow's
answer into the answer tinyserve must give: either a transform of MLflow's answer, or a
*reference request* (the same request as MLflow would need it, e.g. with `text/csv` instead of
`application/csv`) whose MLflow answer is what tinyserve must answer to the original one.
Every other case must be answered exactly like MLflow. A rule that no longer changes MLflow's
answer for one of its cases is reported as stale, so this list stays exact.

One rule applies to every error: `stack_trace` is only sent with `--debug` (the suite runs
tinyserve without it), so an expected error body never carries one.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional

from tests.compat.compare import Form
from tests.compat.corpus import Case

Transform = Callable[[Form, Case, Any], Form]

ONLY_SUPPORTS = re.compile(r"This predictor only supports the following content types: .*")
JSON_ERROR = "application/json"


@dataclass(frozen=True)
class Difference:
    name: str
    reason: str
    cases: Mapping[str, Any]  # case id -> argument for the transform (usually None)
    transform: Optional[Transform] = None
    reference: Optional[Callable[[Case], Case]] = None

    def expected(self, mlflow_form: Form, case: Case) -> Form:
        form = copy.deepcopy(mlflow_form)
        return self.transform(form, case, self.cases[case.id]) if self.transform else form


def error_form(status: int, error_code: str, message: Any, sqlstate: Optional[str] = None,
               error_class: Optional[str] = None) -> Form:
    error: Dict[str, Any] = {"error_code": error_code, "message": message}
    if sqlstate:
        error["sqlstate"], error["error_class"] = sqlstate, error_class
    return {"status": status, "content_type": JSON_ERROR, "error": error, "stack_trace": False}


# ------------------------------------------------------------------ transforms


def nan_to_null(form: Form, case: Case, arg: Any) -> Form:
    def walk(value: Any) -> Any:
        if isinstance(value, float) and (value != value or value in (float("inf"),
                                                                      float("-inf"))):
            return None
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    form["json"], form["strict_json"] = walk(form["json"]), True
    return form


def canonical_content_type(case: Case) -> Case:
    """The header MLflow accepts for the same meaning: lower-case type, no parameters."""
    media_type = (case.content_type or "").split(";")[0].strip().lower()
    return case.with_content_type(media_type)


def without_body(form: Form, case: Case, arg: Any) -> Form:
    form["text"] = ""
    return form


def allow_head(form: Form, case: Case, arg: Any) -> Form:
    form["allow"] = "GET, HEAD"
    return form


def tinyserve_version(form: Form, case: Case, arg: Any) -> Form:
    from tinyserve import __version__

    form["text"] = __version__
    return form


def deadline_as_json(form: Form, case: Case, arg: Any) -> Form:
    return error_form(504, "DEADLINE_EXCEEDED", form["text"])


def serialization_error(form: Form, case: Case, arg: Any) -> Form:
    return error_form(500, "INTERNAL_ERROR", re.compile(r".+", re.DOTALL), "XXM00",
                      "CLIENT_INTERNAL_ERROR")


def refused_cast(form: Form, case: Case, column: str) -> Form:
    message = re.compile(rf".*\b{re.escape(column)}\b.*", re.DOTALL)
    return error_form(400, "BAD_REQUEST", message, "KAM00", "INVALID_PARAMETER_VALUE")


def unparsable_json(form: Form, case: Case, arg: Any) -> Form:
    message = re.compile(r"Invalid input\. .*", re.DOTALL)
    return error_form(400, "BAD_REQUEST", message, "KAM00", "INVALID_PARAMETER_VALUE")


# ------------------------------------------------------------------ the rules


DATAFRAME_FORMATS = ("split", "records")
ALL_JSON_FORMATS = DATAFRAME_FORMATS + ("inputs_rows", "inputs_columns", "instances")


def _model_c_cases(formats: tuple, names: Mapping[str, str]) -> Dict[str, str]:
    """Model C cases (`colsig.<format>.<name>`) -> the column the value was sent in."""
    return {f"colsig.{fmt}.{name}": column for fmt in formats for name, column in names.items()}


RULES = [
    Difference(
        "valid_json_only",
        "Responses are always valid JSON: NaN and +/-Infinity are written as null, where MLflow "
        "writes bare NaN/Infinity tokens that strict JSON parsers reject.",
        dict.fromkeys(["encode.df_nan", "encode.float_special", "encode.dict",
                       "llm.df_nan_unwrapped"]),
        transform=nan_to_null,
    ),
    Difference(
        "application_csv",
        "application/csv is accepted as CSV: MLflow's own docs send CSV that way, MLflow "
        "answers 415. Expected: MLflow's answer to the same body sent as text/csv.",
        dict.fromkeys(["ct.application_csv", "ct.application_csv_json_body"]),
        reference=lambda case: case.with_content_type("text/csv"),
    ),
    Difference(
        "missing_content_type_415",
        "A request without Content-Type is refused like an empty one (415 'only supports'), "
        "where MLflow crashes with a bare 500.",
        dict.fromkeys(["ct.missing"]),
        reference=lambda case: case.with_content_type(""),
    ),
    Difference(
        "rfc9110_content_type",
        "Content-Type is parsed per RFC 9110: case-insensitive type and parameter names, "
        "spaces around ';' and '=', a trailing ';', a quoted charset. Expected: MLflow's "
        "answer to the canonical header.",
        dict.fromkeys(["ct.upper", "ct.mixed_case", "ct.charset_quoted", "ct.charset_key_upper",
                       "ct.trailing_semicolon", "ct.charset_trailing_semicolon",
                       "ct.spaces_around", "ct.csv_upper"]),
        reference=canonical_content_type,
    ),
    Difference(
        "head_on_get_routes",
        "HEAD works wherever GET does (MLflow answers 405): the GET answer without its body.",
        dict.fromkeys(["ep.head_ping", "ep.head_health"]),
        transform=without_body,
        reference=lambda case: case.with_method("GET"),
    ),
    Difference(
        "allow_lists_head",
        "Because HEAD is served on the GET routes, their 405 answers list it in Allow.",
        dict.fromkeys(["ep.post_ping", "ep.post_health", "ep.post_version",
                       "ep.options_ping"]),
        transform=allow_head,
    ),
    Difference(
        "tinyserve_version",
        "/version answers tinyserve's own version, not MLflow's.",
        dict.fromkeys(["ep.get_version"]),
        transform=tinyserve_version,
    ),
    Difference(
        "deadline_json",
        "A request over the time limit gets a JSON error body (DEADLINE_EXCEEDED, MLflow's "
        "text as the message); MLflow sends plain text under an application/json header.",
        dict.fromkeys(["timeout.sleep_beyond_limit", "timeout_env.sleep_beyond_limit"]),
        transform=deadline_as_json,
    ),
    Difference(
        "serialization_error_json",
        "A prediction that cannot be written as JSON gets a JSON 500 INTERNAL_ERROR body; "
        "MLflow answers a bare text/plain 500.",
        dict.fromkeys(["encode.set", "encode.decimal"]),
        transform=serialization_error,
    ),
    Difference(
        "refuse_lossy_cast",
        "A value a cast would silently change (integer overflow, 2.7 into an integer column or "
        "tensor, 'true'/'false' text into a boolean column) gets 400 BAD_REQUEST naming the "
        "column; MLflow wraps the integer, truncates the float, or reads any non-empty text "
        "as True.",
        {**_model_c_cases(ALL_JSON_FORMATS, {
            "i32_2_7": "i32", "i32_1_5": "i32", "i64_2_7": "i64", "bo_false_text": "bo",
            "bo_true_text": "bo"}),
         # the `inputs` formats already refuse an overflow (numpy's error): exact there
         **_model_c_cases(DATAFRAME_FORMATS, {"i32_overflow": "i32", "i64_overflow": "i64"}),
         "named_tensor.inputs_float_for_int": "b"},
        transform=refused_cast,
    ),
    Difference(
        "json_unparsable_400",
        "JSON the parser cannot take gets 400 BAD_REQUEST: nested deeper than Python's "
        "recursion limit, or an integer literal over 4300 digits (Python's conversion limit); "
        "MLflow's parser raises out of the request and it answers a bare 500.",
        dict.fromkeys(["json.nested_2000", "json.integer_5000_digits"]),
        transform=unparsable_json,
    ),
]

RULE_OF_CASE: Dict[str, Difference] = {}
for _rule in RULES:
    for _case_id in _rule.cases:
        if _case_id in RULE_OF_CASE:
            raise ValueError(f"case {_case_id!r} is in two rules")
        RULE_OF_CASE[_case_id] = _rule


def apply_universal(form: Form) -> Form:
    """Every expected error body: no `stack_trace` (tinyserve sends it only with --debug)."""
    if "error" in form:
        form["stack_trace"] = False
    return form


@dataclass
class Plan:
    """How one case is judged: its rule (if any) and the request MLflow answers for it."""

    case: Case
    rule: Optional[Difference] = None
    reference: Optional[Case] = field(default=None)


def plan_for(case: Case) -> Plan:
    rule = RULE_OF_CASE.get(case.id)
    reference = rule.reference(case) if rule and rule.reference else None
    return Plan(case, rule, reference)
