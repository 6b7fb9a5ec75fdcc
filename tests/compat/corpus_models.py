"""Corpus section: params, unified LLM payloads, type-hint models, response encodings, model
errors, the request timeout, and one or more requests to every other fixture flavor.

Spec sections 4.3, 4.10, 8, 9, 10.3, 11 and checklist items 97-122. Model P (`pyfunc_params`)
has no input schema and a params schema; its `kind` param picks what it returns.
"""
from __future__ import annotations

from typing import Any, Dict, List

from tests.compat.corpus import TIMEOUT_ENV_SERVER, TIMEOUT_SERVER, Case, csv, js, split
from tests.compat.corpus_protocol import A_ROWS

P = "pyfunc_params"
H = "pyfunc_typehint"
H_DICT = "pyfunc_typehint_dict"
H_PYDANTIC = "pyfunc_typehint_pydantic"
MESSAGES = [{"role": "user", "content": "hi"}]

# kind -> status MLflow answers (spec 9.3); every kind of Model P's PARAM_KIND_OUTPUTS
RESPONSE_KINDS = {
    "np_int": 200, "df_nan": 200, "series": 200, "series_unnamed": 200, "float_special": 200,
    "datetime_ns": 200, "datetime_s": 200, "bytes": 200, "bytes_array": 200,
    "object_array": 200, "mixed_list": 200, "dict": 200, "scalar": 200, "np_scalar": 200,
    "none": 200, "string": 200, "timestamp": 200, "tuple": 200, "set": 500, "decimal": 500,
    "df_predictions_col": 200, "raise_value": 400, "raise_mlflow": 404, "no_such_kind": 400,
}
ITEM_OF_KIND = {"df_nan": 116, "datetime_ns": 117, "bytes": 118, "set": 119, "decimal": 119,
                "series": 120, "string": 121, "raise_value": 114, "raise_mlflow": 115}


def with_params(case_id: str, params: Any, item: Any = None, status: Any = None) -> Case:
    return js(case_id, P, {"inputs": [1], "params": params}, item, status)


def params_cases() -> List[Case]:
    one: Dict[str, Any] = {
        "temperature_int": ({"temperature": 1}, 97, 200),
        "temperature_float": ({"temperature": 0.25}, None, 200),
        "max_tokens_float": ({"max_tokens": 3.0}, 98, 400),
        "max_tokens_text": ({"max_tokens": "3"}, None, 400),
        "max_tokens_bool": ({"max_tokens": True}, None, 400),
        "max_tokens_huge": ({"max_tokens": 2 ** 40}, None, 200),
        "flag_int": ({"flag": 1}, 99, 400),
        "flag_text": ({"flag": "true"}, None, 400),
        "flag_true": ({"flag": True}, None, 200),
        "temperature_list": ({"temperature": [1.0]}, 100, 400),
        "temperature_text": ({"temperature": "hot"}, None, 400),
        "temperature_bool": ({"temperature": True}, None, 400),
        "when_date": ({"when": "2024-05-06"}, 101, 200),
        "when_datetime": ({"when": "2024-05-06T01:02:03"}, None, 200),
        "when_int": ({"when": 12345}, 101, 400),
        "when_text": ({"when": "nope"}, None, 400),
        "when_utc": ({"when": "2024-05-06T01:02:03Z"}, None, None),
        "when_null": ({"when": None}, None, 200),
        "kind_int": ({"kind": 5}, None, 400),
        "ids_null_item": ({"ids": [1, None]}, None, None),
        "ids_scalar": ({"ids": 5}, 102, 400),
        "ids_empty": ({"ids": []}, 102, 200),
        "ids_list": ({"ids": [3, 4, 5]}, None, 200),
        "ids_2d": ({"ids": [[1]]}, None, 400),
        "ids_text": ({"ids": "x"}, None, 400),
        "ids_float_items": ({"ids": [1.5]}, None, 400),
        "temperature_null": ({"temperature": None}, 103, 200),
        "unknown_key": ({"zzz": 1}, 104, 200),
        "empty": ({}, 104, 200),
        "request_order": ({"max_tokens": 4, "kind": "echo", "temperature": 0.1}, None, 200),
        "two_errors": ({"max_tokens": 3.0, "flag": 1}, None, 400),
        "three_errors": ({"max_tokens": 3.0, "flag": 1, "ids": 5}, None, 400),
    }
    result = [with_params(f"params.{name}", value, item, status)
              for name, (value, item, status) in one.items()]
    result += [
        with_params("params.is_list", [1, 2], 105, 400),
        with_params("params.is_string", "x", None, 400),
        with_params("params.is_null", None, None, 200),
        js("params.absent", P, {"inputs": [1]}, 104, 200),
        js("params.split_input", P, split(["a"], [[1], [2]])),
        csv("params.csv_input", P, "a\n1\n"),
    ]
    return result


def llm_cases() -> List[Case]:
    return [
        js("llm.messages_np_int", P, {"messages": MESSAGES, "temperature": 0.1, "max_tokens": 5,
                                      "kind": "np_int"}, 106, 200),
        js("llm.messages_echo", P, {"messages": MESSAGES, "temperature": 0.1}),
        js("llm.messages_and_inputs", P, {"messages": "x", "inputs": [1]}, 107, 200),
        js("llm.prompt_bad_temperature", P, {"prompt": "hello", "temperature": "hot"}, None, 400),
        js("llm.prompt_params_key_is_data", P, {"prompt": "x", "params": {"kind": "dict"}}),
        js("llm.input_embeddings", P, {"input": ["a", "b"]}, 109, 200),
        js("llm.stream_model_n_are_data", P, {"messages": MESSAGES, "stream": False,
                                              "model": "m", "n": 1}),
        js("llm.df_nan_unwrapped", P, {"prompt": "x", "kind": "df_nan"}),
        js("llm.string_unwrapped", P, {"prompt": "x", "kind": "string"}),
        js("llm.raise_value", P, {"prompt": "x", "kind": "raise_value"}),
        js("llm.raise_mlflow", P, {"prompt": "x", "kind": "raise_mlflow"}),
    ]


def response_cases() -> List[Case]:
    return [with_params(f"encode.{kind}", {"kind": kind}, ITEM_OF_KIND.get(kind), status)
            for kind, status in RESPONSE_KINDS.items()]


def timeout_cases() -> List[Case]:
    def sleep(seconds: float) -> dict:
        return {"inputs": [1], "params": {"kind": "sleep", "temperature": seconds}}

    return [
        js("timeout_env.sleep_beyond_limit", P, sleep(2.5), 122, 504, server=TIMEOUT_ENV_SERVER),
        js("timeout_env.within_limit", P, sleep(0), None, 200, server=TIMEOUT_ENV_SERVER),
        js("timeout.sleep_beyond_limit", P, {"inputs": [1], "params": {"kind": "sleep",
                                                                      "temperature": 4}},
           122, 504, server=TIMEOUT_SERVER),
        Case("timeout.ping_while_busy", P, None, (), "GET", "/ping", TIMEOUT_SERVER, 122, 200),
        js("timeout.sleep_within_limit", P, {"inputs": [1], "params": {"kind": "sleep",
                                                                      "temperature": 0.2}},
           122, 200, server=TIMEOUT_SERVER),
    ]


def type_hint_cases() -> List[Case]:
    return [
        js("typehint.inputs", H, {"inputs": ["a", "bb"]}, 110, 200),
        js("typehint.inputs_empty", H, {"inputs": []}),
        js("typehint.instances", H, {"instances": ["a"]}, 111, 400),
        js("typehint.split", H, split(["x"], [["a"]])),
        js("typehint.unknown_key", H, {"foo": 1}),
        js("typehint.two_formats", H, {"inputs": ["a"], "instances": ["b"]}),
        js("typehint.mixed_types", H, {"inputs": ["a", 1]}, 112, 400),
        js("typehint.string_not_list", H, {"inputs": "a"}),
        js("typehint.null", H, {"inputs": None}),
        js("typehint.messages", H, {"messages": MESSAGES}),
        js("typehint.params", H, {"inputs": ["abc"], "params": {"x": 1}}),
        csv("typehint.csv", H, "x\na\nb\n", 113, 200),
        js("typehint_dict.inputs", H_DICT, {"inputs": [{"k": 1, "s": "x"}, {"k": 2}]}),
        js("typehint_dict.not_dicts", H_DICT, {"inputs": [1, 2]}),
        js("typehint_dict.dict_not_list", H_DICT, {"inputs": {"k": 1}}),
        csv("typehint_dict.csv", H_DICT, "k,s\n1,x\n2,y\n"),
        js("typehint_pydantic.inputs", H_PYDANTIC, {"inputs": [{"name": "ann", "age": 3}]}),
        js("typehint_pydantic.default_age", H_PYDANTIC, {"inputs": [{"name": "bo"}]}),
        js("typehint_pydantic.missing_name", H_PYDANTIC, {"inputs": [{"age": 3}]}),
        js("typehint_pydantic.wrong_type", H_PYDANTIC, {"inputs": [{"name": ["x"]}]}),
        csv("typehint_pydantic.csv", H_PYDANTIC, "name,age\nann,3\n"),
    ]


def flavor_cases() -> List[Case]:
    """One or more requests to every other fixture: the loaders, through the server."""
    a_split = split(["a", "b"], A_ROWS)
    x_split = split(["x"], [[1.0], [2.0]])
    text_split = split(["text"], [["ab"], ["abcd"]])
    return [
        js("flavor.sk_proba", "sk_proba", a_split),
        js("flavor.sk_pickle", "sk_pickle", a_split),
        js("flavor.sk_cloudpickle", "sk_cloudpickle", a_split),
        js("flavor.sk_nosig_split", "sk_nosig", a_split),
        js("flavor.sk_nosig_inputs_matrix", "sk_nosig", {"inputs": A_ROWS}),
        js("flavor.sk_nosig_wrong_width", "sk_nosig", {"inputs": [[1.0, 2.0, 3.0]]}),
        js("flavor.legacy_predict", "pyfunc_legacy_predict", {"inputs": [1]}),
        js("flavor.legacy_predict_params", "pyfunc_legacy_predict",
           {"inputs": [1], "params": {"x": 1}}),
        js("flavor.compressed", "pyfunc_compressed", x_split),
        js("flavor.function", "pyfunc_function", x_split),
        js("flavor.function_ints", "pyfunc_function", split(["x"], [[1], [2]])),
        js("flavor.code_ref", "pyfunc_code_ref", {"inputs": [1, 2]}),
        js("flavor.code_model", "code_model", text_split),
        js("flavor.code_model_inputs", "code_model", {"inputs": ["ab", "c"]}),
        js("flavor.code_model_missing_text", "code_model", split(["t"], [["ab"]])),
        js("flavor.code_model_callable", "code_model_callable", text_split),
        js("flavor.artifacts", "pyfunc_artifacts", split(["x"], [[4.0], [-2.0]])),
        js("flavor.artifacts_params", "pyfunc_artifacts",
           dict(split(["x", "note"], [[4.0, "n"], [-2.0, None]]),
                params={"multiplier": 2, "tag": "t", "ids": [3], "as_of": "2024-03-04"})),
        js("flavor.artifacts_bad_param", "pyfunc_artifacts",
           dict(split(["x"], [[1.0]]), params={"top_k": 1.5, "verbose": "yes"})),
        js("flavor.artifacts_missing_x", "pyfunc_artifacts", split(["note"], [["n"]])),
        csv("flavor.artifacts_csv", "pyfunc_artifacts", "x,note\n4.0,n\n-2.0,\n"),
    ]


def cases() -> List[Case]:
    return (params_cases() + llm_cases() + response_cases() + type_hint_cases()
            + flavor_cases() + timeout_cases())
