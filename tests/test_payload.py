"""Content-Type parsing, JSON decoding and format-key splitting (spec 3, 4.1-4.4, 4.10).

Expected texts are MLflow 3.17.2's, checked against the reference server's own functions;
tests marked "deliberate" pin tinyserve's documented differences instead.
"""
from __future__ import annotations

import json
import re
import unittest

from tinyserve.errors import ScoringError, UnsupportedMediaType
from tinyserve.payload import (
    PROTOCOL_NOTE, TOO_DEEP, decode_json, parse_content_type, split_json_request,
)

ONLY_UTF8 = "The scoring server only supports UTF-8"
ONLY_TYPES = ("This predictor only supports the following content types: Types: ['text/csv', "
              "'application/json', 'application/vnd.apache.parquet']. Got '{}'.")
SET_OF_FORMATS = re.compile(r"\{('[a-z_]+'(, )?){4}\}")


def unrecognized(keys: str) -> str:
    return f"Unrecognized content type parameters: {keys}. {PROTOCOL_NOTE}"


def without_set_order(text: str) -> str:
    """MLflow renders the format keys as a Python set, whose order varies per process."""
    return SET_OF_FORMATS.sub("{FORMATS}", text)


class ContentTypeTest(unittest.TestCase):
    ACCEPTED = [  # header -> kind; checklist numbers in the comments
        ("application/json", "json"),
        ("application/json; charset=UTF-8", "json"),  # 14
        ("application/json;charset=utf-8", "json"),
        ("text/csv; charset=utf-8", "csv"),
        ("application/vnd.apache.parquet; charset=utf-8", "parquet"),
        ("application/vnd.apache.parquet", "parquet"),
    ]
    ACCEPTED_DELIBERATELY = [  # MLflow answers 415 to all of these (RFC 9110 says they are fine)
        ("application/csv", "csv"),  # 12
        ("APPLICATION/JSON", "json"),  # 13
        ("Text/CSV", "csv"),
        ('application/json; charset="utf-8"', "json"),  # 17
        ('application/json; charset="UTF-8"', "json"),
        ("application/json;", "json"),  # 19
        ("application/json;charset=utf-8;", "json"),
        ("application/json;;charset=utf-8", "json"),
        ("application/json ; charset = utf-8", "json"),  # 20
        ("application/json; CHARSET=utf-8", "json"),
        ("  application/json  ", "json"),
    ]
    REFUSED = [  # header -> exact 415 text
        ("", ONLY_TYPES.format("")),  # 11
        ("application/json; charset=latin-1", ONLY_UTF8),  # 15
        ("application/json; charset=utf8", ONLY_UTF8),  # 16
        ("application/json; charset", ONLY_UTF8),
        ("application/json; charset=utf-8; charset=latin-1", ONLY_UTF8),
        ("application/json; foo=bar", unrecognized("foo")),  # 18
        ("application/json; format=pandas-split", unrecognized("format")),
        ("application/json; charset=utf-8; foo=bar; baz=1", unrecognized("foo, baz")),
        ("text/plain; charset=latin-1", ONLY_UTF8),  # 21: charset checked before the type
        ("text/plain; foo=1", unrecognized("foo")),
        ("application/json, text/csv", ONLY_TYPES.format("application/json, text/csv")),
        ("text/json", ONLY_TYPES.format("text/json")),
        ("application/x-www-form-urlencoded",
         ONLY_TYPES.format("application/x-www-form-urlencoded")),
        ("application/octet-stream", ONLY_TYPES.format("application/octet-stream")),
    ]

    def test_mlflow_accepted_headers_give_their_kind(self) -> None:
        for header, kind in self.ACCEPTED:
            with self.subTest(header=header):
                self.assertEqual(parse_content_type(header), kind)

    def test_rfc_9110_spellings_are_accepted_deliberately(self) -> None:
        for header, kind in self.ACCEPTED_DELIBERATELY:
            with self.subTest(header=header):
                self.assertEqual(parse_content_type(header), kind)

    def test_refused_headers_raise_415_with_mlflow_text(self) -> None:  # 11, 15-18, 21, 22
        for header, text in self.REFUSED:
            with self.subTest(header=header):
                with self.assertRaises(UnsupportedMediaType) as caught:
                    parse_content_type(header)
                self.assertEqual(caught.exception.text, text)

    def test_missing_header_is_refused_like_an_empty_one_deliberately(self) -> None:  # 10
        with self.assertRaises(UnsupportedMediaType) as caught:
            parse_content_type(None)
        self.assertEqual(caught.exception.text, ONLY_TYPES.format(""))

    def test_refusal_quotes_the_raw_header_unchanged(self) -> None:
        with self.assertRaises(UnsupportedMediaType) as caught:
            parse_content_type(" Text/Plain ")
        self.assertEqual(caught.exception.text, ONLY_TYPES.format(" Text/Plain "))


def invalid_json(error: str, body: bytes) -> str:
    return ("Invalid input. Ensure that input is a valid JSON formatted string. "
            f"Error: '{error}'\nInput: \n{body!r}\n")


class DecodeJsonTest(unittest.TestCase):
    DECODED = [  # body -> value (26, 27, 28, 34)
        ('{"inputs": [1]}'.encode("utf-16"), {"inputs": [1]}),
        ('{"inputs": [1]}'.encode("utf-16-le"), {"inputs": [1]}),
        ('{"inputs": [1]}'.encode("utf-32"), {"inputs": [1]}),
        (b"\xef\xbb\xbf" + b'{"inputs": [1]}', {"inputs": [1]}),
        (b'{"inputs": [1], "inputs": [2]}', {"inputs": [2]}),
        (b'{"s": "caf\xc3\xa9 [x] {y} \\" ]"}', {"s": 'café [x] {y} " ]'}),
        (b"[1, 2]", [1, 2]),
        (b"null", None),
    ]
    REFUSED = [  # body -> exact message (23, 24)
        (b"this is,,,, not valid json",
         invalid_json("JSONDecodeError('Expecting value: line 1 column 1 (char 0)')",
                      b"this is,,,, not valid json")),
        (b"", invalid_json("JSONDecodeError('Expecting value: line 1 column 1 (char 0)')", b"")),
        (b'{"a": 1', invalid_json(
            "JSONDecodeError(\"Expecting ',' delimiter: line 1 column 8 (char 7)\")", b'{"a": 1')),
        (b"\xef\xbb\xbf\xef\xbb\xbf{}", invalid_json(
            "JSONDecodeError('Expecting value: line 1 column 1 (char 0)')",
            b"\xef\xbb\xbf\xef\xbb\xbf{}")),
    ]

    def test_bodies_decode_like_json_loads_of_bytes(self) -> None:
        for body, value in self.DECODED:
            with self.subTest(body=body):
                self.assertEqual(decode_json(body), value)

    def test_nan_and_infinity_literals_become_floats(self) -> None:  # 28
        doc = decode_json(b'{"inputs": {"a": [NaN], "b": [Infinity, -Infinity, 1e400]}}')
        self.assertNotEqual(doc["inputs"]["a"][0], doc["inputs"]["a"][0])
        self.assertEqual(doc["inputs"]["b"], [float("inf"), float("-inf"), float("inf")])

    def test_malformed_json_gives_400_with_body_repr(self) -> None:  # 23, 24
        for body, message in self.REFUSED:
            with self.subTest(body=body):
                with self.assertRaises(ScoringError) as caught:
                    decode_json(body)
                self.assertEqual((caught.exception.status, caught.exception.error_code,
                                  caught.exception.message), (400, "BAD_REQUEST", message))
                self.assertIsNone(caught.exception.stack_trace)

    def test_invalid_utf8_names_the_unicode_error(self) -> None:  # 25
        body = b'{"inputs": [1], "x": "\xe9"}'
        with self.assertRaises(ScoringError) as caught:
            decode_json(body)
        self.assertEqual(caught.exception.message, invalid_json(
            "UnicodeDecodeError('utf-8', b'{\"inputs\": [1], \"x\": \"\\xe9\"}', 22, 23, "
            "'invalid continuation byte')", body))

    def test_nesting_the_parser_takes_is_accepted_as_in_mlflow(self) -> None:
        for depth in (100, 150, 500):
            with self.subTest(depth=depth):
                body = b'{"inputs": 1, "x": ' + b"[" * depth + b"]" * depth + b"}"
                self.assertEqual(decode_json(body), json.loads(body))

    def test_nesting_past_the_recursion_limit_is_400_deliberately(self) -> None:
        for body in (b"[" * 2000 + b"]" * 2000, b'{"a": ' * 5000 + b"1" + b"}" * 5000,
                     ("[" * 3000 + "]" * 3000).encode("utf-16")):
            with self.subTest(body=body[:20]):
                with self.assertRaises(ScoringError) as caught:
                    decode_json(body)
                self.assertEqual(caught.exception.message, TOO_DEEP)
                self.assertEqual(caught.exception.status, 400)


class TopLevelShapeTest(unittest.TestCase):
    def refusal(self, doc, **kwargs) -> ScoringError:
        with self.assertRaises(ScoringError) as caught:
            split_json_request(doc, **kwargs)
        return caught.exception

    def test_non_object_documents_are_400(self) -> None:  # 29, 30
        prefix = ("Invalid input. The input must be a JSON dictionary with exactly one of the "
                  "input fields {FORMATS}. ")
        for doc, tail in (([1, 2], "Received a list."),
                          (1, "Received unexpected input type '<class 'int'>."),
                          ("str", "Received unexpected input type '<class 'str'>."),
                          (None, "Received unexpected input type '<class 'NoneType'>.")):
            with self.subTest(doc=doc):
                error = self.refusal(doc)
                self.assertEqual((error.error_code, without_set_order(error.message)),
                                 ("BAD_REQUEST", prefix + tail))

    def test_format_key_count_other_than_one_is_400(self) -> None:  # 31, 32
        for doc, listed in (({}, "[]"), ({"foo": 1}, "[]"), ({"params": {}}, "[]"),
                            ({"inputs": 1, "instances": 2}, "['inputs', 'instances']"),
                            ({"instances": 2, "foo": 0, "inputs": 1}, "['instances', 'inputs']")):
            with self.subTest(doc=doc):
                error = self.refusal(doc)
                self.assertEqual(error.error_code, "BAD_REQUEST")
                self.assertEqual(without_set_order(error.message),
                                 "The input must be a JSON dictionary with exactly one of the input "
                                 f"fields {{FORMATS}}. Received dictionary with input fields: "
                                 f"{listed}. {PROTOCOL_NOTE}")

    def test_wrapped_formats_keep_the_raw_value_and_params(self) -> None:  # 33, 63, 64
        cases = [
            ({"inputs": [1], "foo": 1, "signature_name": "x"}, "inputs", [1], None),
            ({"inputs": [1], "params": {"x": 1}}, "inputs", [1], {"x": 1}),
            ({"params": [1, 2], "instances": {"a": 1}}, "instances", {"a": 1}, [1, 2]),
            ({"dataframe_split": {"data": []}}, "dataframe_split", {"data": []}, None),
            ({"dataframe_records": "x"}, "dataframe_records", "x", None),
        ]
        for doc, kind, data, params in cases:
            with self.subTest(doc=doc):
                request = split_json_request(doc, param_names=("x",))
                self.assertEqual((request.format, request.data, request.params, request.unwrap),
                                 (kind, data, params, False))


class UnifiedLlmTest(unittest.TestCase):
    PARAMS = ("temperature", "max_tokens", "kind", "flag", "when", "ids")
    CASES = [  # doc, param names, data, params
        ({"messages": [{"role": "user", "content": "hi"}], "temperature": 0.1, "kind": "np_int",
          "stream": True, "params": {"kind": "dict"}}, PARAMS,
         {"messages": [{"role": "user", "content": "hi"}], "stream": True,
          "params": {"kind": "dict"}}, {"temperature": 0.1, "kind": "np_int"}),  # 106
        ({"messages": "x", "inputs": [1]}, PARAMS, {"messages": "x", "inputs": [1]}, {}),  # 107
        ({"prompt": "x", "temperature": 0.2}, (),
         {"prompt": "x", "temperature": 0.2}, {}),  # 108
        ({"input": ["a", "b"]}, PARAMS, {"input": ["a", "b"]}, {}),  # 109
    ]

    def test_llm_keys_win_and_param_names_route_to_params(self) -> None:
        for doc, names, data, params in self.CASES:
            for type_hint_model in (False, True):
                with self.subTest(doc=doc, type_hint_model=type_hint_model):
                    request = split_json_request(doc, names, type_hint_model)
                    self.assertEqual((request.format, request.data, request.params,
                                      request.unwrap), ("llm", data, params, True))


class TypeHintModelTest(unittest.TestCase):
    def test_inputs_value_passes_raw(self) -> None:  # 110, 112
        for doc, data, params in (({"inputs": ["a", "b"]}, ["a", "b"], None),
                                  ({"inputs": ["a", 1], "params": {"k": 1}}, ["a", 1], {"k": 1}),
                                  ({"inputs": 1, "instances": 2}, 1, None)):
            with self.subTest(doc=doc):
                request = split_json_request(doc, (), type_hint_model=True)
                self.assertEqual((request.format, request.data, request.params, request.unwrap),
                                 ("type_hint", data, params, False))

    def test_missing_inputs_is_invalid_parameter_value(self) -> None:  # 111
        for doc, keys in (({"instances": ["a"]}, "['instances']"), ({"foo": 1}, "[]"),
                          ({"dataframe_split": {}, "instances": 1},
                           "['dataframe_split', 'instances']")):
            with self.subTest(doc=doc):
                with self.assertRaises(ScoringError) as caught:
                    split_json_request(doc, (), type_hint_model=True)
                self.assertEqual((caught.exception.status, caught.exception.error_code,
                                  caught.exception.message),
                                 (400, "INVALID_PARAMETER_VALUE",
                                  "Request payload must be a dictionary with 'inputs' key when the "
                                  "model contains a valid type hint. Found keys in payload: "
                                  f"dict_keys({keys})."))


if __name__ == "__main__":
    unittest.main()
