"""Corpus section: endpoints, the Content-Type header and JSON decoding (spec 2, 3, 4.1-4.4).

All sent to Model A (`sk_skops`: named double columns `a`, `b`; predicts [0, 1] for A_ROWS).
"""
from __future__ import annotations

from typing import List

from tests.compat.corpus import CSV, JSON, PARQUET, Case, bare, dumps, js, parquet, \
    parquet_support, raw, split

A = "sk_skops"
A_ROWS = [[0.0, 1.0], [5.0, 2.0]]
A_SPLIT = split(["a", "b"], A_ROWS)
A_BODY = dumps(A_SPLIT)
A_CSV = "a,b\n0.0,1.0\n5.0,2.0\n"


def endpoint_cases() -> List[Case]:
    return [
        bare("ep.get_ping", A, "GET", "/ping", 1, 200),
        bare("ep.get_health", A, "GET", "/health", 2, 200),
        bare("ep.get_version", A, "GET", "/version", 3, 200),
        bare("ep.get_invocations", A, "GET", "/invocations", 4, 405),
        bare("ep.put_invocations", A, "PUT", "/invocations", None, 405),
        bare("ep.delete_invocations", A, "DELETE", "/invocations", None, 405),
        bare("ep.post_ping", A, "POST", "/ping", 5, 405),
        bare("ep.post_health", A, "POST", "/health", None, 405),
        bare("ep.post_version", A, "POST", "/version", None, 405),
        bare("ep.options_ping", A, "OPTIONS", "/ping", None, 405),
        bare("ep.head_ping", A, "HEAD", "/ping", 6, 405),
        bare("ep.head_health", A, "HEAD", "/health", None, 405),
        bare("ep.get_root", A, "GET", "/", 7, 404),
        bare("ep.post_foo", A, "POST", "/foo", 7, 404),
        bare("ep.get_nope", A, "GET", "/nope", None, 404),
        bare("ep.head_invocations", A, "HEAD", "/invocations", None, 405),
        bare("ep.options_invocations", A, "OPTIONS", "/invocations", None, 405),
        bare("ep.head_nope", A, "HEAD", "/nope", None, 404),
        bare("ep.get_ping_query", A, "GET", "/ping?x=1", None, 200),
        bare("ep.get_ping_percent_encoded", A, "GET", "/pin%67", None, 200),
        bare("ep.get_double_slash", A, "GET", "//ping", None, 404),
        bare("ep.get_version_slash", A, "GET", "/version/", None, 307),
        bare("ep.get_ping_slash", A, "GET", "/ping/", 8, 307),
        bare("ep.get_ping_slash_query", A, "GET", "/ping/?x=1", None, 307),
        raw("ep.post_invocations_slash", A, A_BODY, JSON, None, 307, path="/invocations/"),
        raw("ep.query_string", A, A_BODY, JSON, 9, 200, path="/invocations?x=1"),
        raw("ep.valid_split", A, A_BODY, JSON, 35, 200),
    ]


def content_type_cases() -> List[Case]:
    def ct(case_id: str, header, item=None, status=None, body: bytes = A_BODY) -> Case:
        return raw(case_id, A, body, header, item, status)

    return [
        ct("ct.missing", None, 10, 500),
        ct("ct.empty", "", 11, 415),
        ct("ct.application_csv", "application/csv", 12, 415, A_CSV.encode()),
        ct("ct.application_csv_json_body", "application/csv", None, 415),
        ct("ct.upper", "APPLICATION/JSON", 13, 415),
        ct("ct.mixed_case", "Application/Json", None, 415),
        ct("ct.charset_upper", "application/json; charset=UTF-8", 14, 200),
        ct("ct.charset_no_space", "application/json;charset=utf-8", None, 200),
        ct("ct.charset_latin1", "application/json; charset=latin-1", 15, 415),
        ct("ct.charset_utf8_no_dash", "application/json; charset=utf8", 16, 415),
        ct("ct.charset_quoted", 'application/json; charset="utf-8"', 17, 415),
        ct("ct.charset_quoted_latin1", 'application/json; charset="latin-1"', None, 415),
        ct("ct.charset_no_value", "application/json; charset", None, 415),
        ct("ct.charset_duplicate_last_wins", "application/json; charset=latin-1; charset=utf-8",
           None, 200),
        ct("ct.param_foo", "application/json; foo=bar", 18, 415),
        ct("ct.param_two_unknown", "application/json; charset=utf-8; foo=bar; baz=1", None, 415),
        ct("ct.param_format_pandas_split", "application/json; format=pandas-split", None, 415),
        ct("ct.charset_key_upper", "application/json; CHARSET=utf-8", None, 415),
        ct("ct.trailing_semicolon", "application/json;", 19, 415),
        ct("ct.charset_trailing_semicolon", "application/json;charset=utf-8;", None, 415),
        ct("ct.spaces_around", "application/json ; charset = utf-8", 20, 415),
        ct("ct.text_plain_latin1", "text/plain; charset=latin-1", 21, 415),
        ct("ct.text_plain_foo", "text/plain; foo=1", None, 415),
        ct("ct.text_plain", "text/plain", 22, 415),
        ct("ct.text_json", "text/json", None, 415),
        ct("ct.octet_stream", "application/octet-stream", None, 415),
        ct("ct.form_urlencoded", "application/x-www-form-urlencoded", None, 415),
        ct("ct.two_types", "application/json, text/csv", None, 415),
        ct("ct.csv_charset", "text/csv; charset=utf-8", None, 200, A_CSV.encode()),
        ct("ct.csv_upper", "TEXT/CSV", None, 415, A_CSV.encode()),
        ct("ct.csv_with_json_body", CSV, None, 400),
    ]


def json_decoding_cases() -> List[Case]:
    inputs_ab = {"inputs": {"a": [0.0, 5.0], "b": [1.0, 2.0]}}
    text = dumps(inputs_ab).decode()
    deep = "[" * 150 + "]" * 150
    deeper = "[" * 2000 + "]" * 2000
    return [
        raw("json.not_json", A, b"this is,,,, not valid json", JSON, 23, 400),
        raw("json.empty_body", A, b"", JSON, 24, 400),
        raw("json.invalid_utf8", A, b'{"inputs": {"a": [1.0], "b": [2.0]}, "x": "\xe9"}',
            JSON, 25, 400),
        raw("json.utf16_bom", A, text.encode("utf-16"), JSON, 26, 200),
        raw("json.utf16_le_no_bom", A, text.encode("utf-16-le"), JSON, None, 200),
        raw("json.utf16_be_no_bom", A, text.encode("utf-16-be"), JSON, None, 200),
        raw("json.utf32", A, text.encode("utf-32"), JSON, None, 200),
        raw("json.utf8_bom", A, b"\xef\xbb\xbf" + text.encode(), JSON, 27, 200),
        raw("json.latin1_declared_utf8", A, '{"inputs": {"a": [1.0], "b": [2.0]}, "x": "é"}'
            .encode("latin-1"), "application/json; charset=utf-8", None, 400),
        raw("json.nan_infinity_to_sklearn", A, b'{"inputs": {"a": [NaN], "b": [Infinity]}}',
            JSON, 28, 400),
        raw("json.big_float_to_inf", A, b'{"inputs": {"a": [1e400], "b": [1.0]}}', JSON, None, 400),
        js("json.top_list", A, [1, 2], 29, 400),
        js("json.top_records_list", A, [{"a": 0.0, "b": 1.0}], None, 400),
        js("json.top_number", A, 1, 30, 400),
        js("json.top_string", A, "str", None, 400),
        js("json.top_null", A, None, None, 400),
        js("json.top_true", A, True, None, 400),
        js("json.empty_object", A, {}, 31, 400),
        js("json.unknown_key_only", A, {"foo": 1}, 31, 400),
        js("json.two_formats", A, {"inputs": [1], "instances": [1]}, 32, 400),
        js("json.three_formats", A, {"dataframe_records": [], "inputs": [1], "instances": [1]},
           None, 400),
        js("json.params_only", A, {"params": {"x": 1}}, None, 400),
        js("json.unknown_keys_ignored", A, dict(A_SPLIT, foo=1, signature_name="x"), 33, 200),
        raw("json.duplicate_inputs_last_wins", A,
            b'{"inputs": {"a": [9.0], "b": [9.0]}, "inputs": {"a": [0.0], "b": [1.0]}}',
            JSON, 34, 200),
        raw("json.whitespace_around", A, b" \n\t" + A_BODY + b"\n ", JSON, None, 200),
        raw("json.nested_150_in_ignored_key", A,
            ('{"inputs": {"a": [0.0], "b": [1.0]}, "x": ' + deep + "}").encode(), JSON, None, 200),
        raw("json.nested_2000", A,
            ('{"inputs": {"a": [0.0], "b": [1.0]}, "x": ' + deeper + "}").encode(), JSON,
            None, 500),
        raw("json.integer_5000_digits", A,
            ('{"inputs": {"a": [0.0], "b": [1.0]}, "x": ' + "7" * 5000 + "}").encode(), JSON,
            None, 500),
        raw("json.nested_150_inputs", A,
            ('{"inputs": ' + "[" * 150 + "1" + "]" * 150 + "}").encode(), JSON, None, 400),
    ]


def cases() -> List[Case]:
    result = endpoint_cases() + content_type_cases() + json_decoding_cases()
    if parquet_support():
        frame = {"a": ([0.0, 5.0], "float64"), "b": ([1.0, 2.0], "float64")}
        result.append(parquet("ct.parquet_charset", A, frame)
                      .with_content_type(PARQUET + "; charset=utf-8"))
    return result
