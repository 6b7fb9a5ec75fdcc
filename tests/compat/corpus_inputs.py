"""Corpus section: input formats, conversions, complex values, tensors, CSV and Parquet.

Spec sections 4.4-4.8, 5, 7 and checklist items 35-96. The echo models (N, C, T and friends)
answer with a description of exactly what they received (type, dtypes, values), so equal echo
bodies from both servers mean equal model input.
"""
from __future__ import annotations

from typing import Any, Dict, List

from tests.compat.corpus import NO_SCHEMA_DETAILS_SERVER, Case, csv, js, parquet, \
    parquet_support, raw, split
from tests.compat.corpus_protocol import A, A_ROWS

N = "pyfunc_echo"
C = "pyfunc_colsig"
T = "pyfunc_tensor"
PROMPT = "pyfunc_prompt"
UNNAMED = "pyfunc_unnamed_cols"
COMPLEX = "pyfunc_complex"
NAMED_T = "pyfunc_named_tensor"

C_COLUMNS = ["bo", "i32", "i64", "f32", "f64", "s", "bin", "dt", "opt"]
C_ROW: Dict[str, Any] = {"bo": True, "i32": 1, "i64": 2, "f32": 1.5, "f64": 2.5, "s": "x",
                         "bin": "aGk=", "dt": "2024-01-02", "opt": 0.5}
DROP = object()  # marks a column left out of the request

# (name, column, value) sent to Model C in every JSON format (spec 7.5 and items 68-78)
C_VALUES = [
    ("valid", "s", "x"),
    ("bo_null", "bo", None),
    ("bo_false_text", "bo", "false"),
    ("bo_true_text", "bo", "true"),
    ("bo_zero", "bo", 0),
    ("bo_two", "bo", 2),
    ("i32_1_5", "i32", 1.5),
    ("i32_2_7", "i32", 2.7),
    ("i32_2_0", "i32", 2.0),
    ("i32_overflow", "i32", 1099511627776),
    ("i32_text_7", "i32", "7"),
    ("i32_null", "i32", None),
    ("i32_true", "i32", True),
    ("i64_2_7", "i64", 2.7),
    ("i64_overflow", "i64", 2 ** 63),
    ("i64_null", "i64", None),
    ("f32_huge", "f32", 1e300),
    ("f64_text", "f64", "2.5"),
    ("f64_true", "f64", True),
    ("f64_null", "f64", None),
    ("f64_abc", "f64", "abc"),
    ("s_int", "s", 1),
    ("s_null", "s", None),
    ("s_unicode", "s", "caf\u00e9"),
    ("bin_null", "bin", None),
    ("bin_int", "bin", 5),
    ("bin_bad_padding", "bin", "aGk"),
    ("bin_non_ascii", "bin", "\u00e9"),
    ("dt_us_format", "dt", "01/02/2024"),
    ("dt_tz_z", "dt", "2024-01-02T03:04:05Z"),
    ("dt_epoch_ns", "dt", 1.7e18),
    ("dt_null", "dt", None),
    ("dt_nope", "dt", "nope"),
    ("opt_omitted", "opt", DROP),
    ("opt_null", "opt", None),
    ("extra_column", "zzz", 1),
    ("missing_required", "i64", DROP),
]


# C_VALUES name -> spec 18 checklist item
C_ITEMS = {"bo_null": 68, "bo_false_text": 69, "i32_1_5": 70, "i32_overflow": 71, "i64_null": 72,
           "s_int": 73, "valid": 74, "bin_bad_padding": 75, "dt_tz_z": 76, "dt_nope": 77,
           "opt_omitted": 78, "opt_null": 78}


def c_row(column: str, value: Any) -> Dict[str, Any]:
    row = dict(C_ROW)
    if value is DROP:
        row.pop(column)
    else:
        row[column] = value
    return row


def colsig_cases() -> List[Case]:
    """Every C_VALUES entry in the five JSON formats."""
    result: List[Case] = []
    for name, column, value in C_VALUES:
        row = c_row(column, value)
        columns = list(row)
        item = C_ITEMS.get(name)
        result += [
            js(f"colsig.split.{name}", C, split(columns, [[row[c] for c in columns]]), item),
            js(f"colsig.records.{name}", C, {"dataframe_records": [row]}, item),
            js(f"colsig.inputs_rows.{name}", C, {"inputs": [row]}, item),
            js(f"colsig.inputs_columns.{name}", C, {"inputs": {c: [v] for c, v in row.items()}},
               item),
            js(f"colsig.instances.{name}", C, {"instances": [row]}, item),
        ]
    result += [
        js("colsig.inputs_scalars_one_row", C, {"inputs": C_ROW}),
        js("colsig.split_two_rows", C, split(C_COLUMNS, [list(C_ROW.values())] * 2)),
        js("colsig.split_with_index", C, split(C_COLUMNS, [list(C_ROW.values())], index=[7])),
        js("colsig.records_empty", C, {"dataframe_records": []}),
        csv("colsig.csv_with_datetime", C, ",".join(C_COLUMNS) + "\n" +
            "True,1,2,1.5,2.5,x,aGk=,2024-01-02,0.5\n", 94, 400),
        csv("colsig.csv_without_datetime", C, "bo,i32\nTrue,1\n"),
    ]
    # CSV without the datetime column: read_csv's own dtype checks (spec 5.1)
    csv_bodies = {
        "bool_lower": "bo,i32\ntrue,1\n", "bool_one": "bo,i32\n1,1\n",
        "bool_yes": "bo,i32\nyes,1\n", "bool_empty": "bo,i32\n,1\n",
        "int_empty": "bo,i32\nTrue,\n", "int_float": "bo,i32\nTrue,1.5\n",
        "int_overflow": "bo,i32\nTrue,1099511627776\n", "float_empty": "f32,f64\n,\n",
        "float_huge": "f32,f64\n1e300,1\n", "string_numeric": "s,bin\n123,aGk=\n",
        "all_but_datetime": "bo,i32,i64,f32,f64,s,bin,opt\nTrue,1,2,1.5,2.5,x,aGk=,\n",
    }
    result += [csv(f"colsig.csv.{name}", C, body) for name, body in csv_bodies.items()]
    # MLFLOW_DISABLE_SCHEMA_DETAILS=true: generic enforcement messages (spec 7.2)
    hidden = [
        ("valid", {"dataframe_records": [C_ROW]}),
        ("missing_required", {"dataframe_records": [c_row("i64", DROP)]}),
        ("missing_and_extra", {"dataframe_records": [{**c_row("i64", DROP), "zzz": 1}]}),
        ("dt_tz_z", {"dataframe_records": [c_row("dt", "2024-01-02T03:04:05Z")]}),
        ("layer_a_error", {"dataframe_records": [c_row("f64", "abc")]}),
    ]
    result += [js(f"colsig.no_schema_details.{name}", C, payload,
                  server=NO_SCHEMA_DETAILS_SERVER) for name, payload in hidden]
    return result


def colsig_parquet_cases() -> List[Case]:
    exact = {"bo": ([True], "bool"), "i32": ([1], "int32"), "i64": ([2], "int64"),
             "f32": ([1.5], "float32"), "f64": ([2.5], "float64"), "s": (["x"], "object"),
             "bin": ([b"hi"], "object"), "dt": (["2024-01-02"], "datetime64[ns]")}

    def with_column(name: str, values: list, dtype: str) -> Dict[str, Any]:
        columns = dict(exact)
        columns[name] = (values, dtype)
        return columns

    return [
        parquet("colsig.parquet.exact", C, exact, 80, 200),
        parquet("colsig.parquet.f64_int64", C, with_column("f64", [2], "int64"), 79, 400),
        parquet("colsig.parquet.f64_int64_zero_one", C, with_column("f64", [1], "int64")),
        parquet("colsig.parquet.i32_int64", C, with_column("i32", [1], "int64")),
        parquet("colsig.parquet.f32_float64", C, with_column("f32", [1.5], "float64")),
        parquet("colsig.parquet.dt_string", C, with_column("dt", ["2024-01-02"], "object")),
        parquet("colsig.parquet.bin_string", C, with_column("bin", ["hi"], "object")),
        parquet("colsig.parquet.i64_int32", C, with_column("i64", [2], "int32")),
    ]


def model_a_cases() -> List[Case]:
    return [
        js("a.split_ints", A, split(["a", "b"], [[0, 1], [5, 2]]), 36, 200),
        js("a.split_reordered", A, split(["b", "a"], [[1.0, 0.0], [2.0, 5.0]]), 37, 200),
        js("a.split_extra_column", A, split(["a", "b", "c"], [[0.0, 1.0, 9], [5.0, 2.0, 9]]),
           38, 200),
        js("a.split_missing_b", A, split(["a"], [[0.0], [5.0]]), 39, 400),
        js("a.split_no_columns", A, split(None, A_ROWS), 40, 400),
        js("a.split_text_in_double", A, split(["a", "b"], [["x", 1.0]]), 41, 400),
        js("a.split_true_in_double", A, split(["a", "b"], [[True, 1.0]]), 42, 200),
        js("a.split_null_in_double", A, split(["a", "b"], [[None, 1.0]]), 43, 400),
        js("a.split_is_list", A, {"dataframe_split": [[0.0, 1.0]]}, 44, 400),
        js("a.split_is_string", A, {"dataframe_split": "x"}, 45, 400),
        js("a.split_extra_key", A, {"dataframe_split": {"columns": ["a", "b"], "data": A_ROWS,
                                                        "extra": 1}}, 46, 400),
        js("a.split_no_data", A, {"dataframe_split": {"columns": ["a", "b"]}}, None, 400),
        js("a.split_index_mismatch", A, {"dataframe_split": {"index": [1, 2],
                                                             "data": [[1], [2], [3]]}}, 47, 400),
        js("a.split_1d_data_two_columns", A, split(["a", "b"], [1.0, 2.0]), None, 400),
        js("a.split_index_null", A, split(["a", "b"], A_ROWS, index=None), 48, 200),
        js("a.split_empty_data", A, split(["a", "b"], []), None, 400),
        js("a.split_duplicate_columns", A, split(["a", "a"], A_ROWS), None, 400),
        js("a.records", A, {"dataframe_records": [{"a": 0.0, "b": 1.0}, {"a": 5, "b": 2}]},
           49, 200),
        js("a.records_is_object", A, {"dataframe_records": {"a": 0.0, "b": 1.0}}, 50, 400),
        js("a.records_is_string", A, {"dataframe_records": "x"}, None, 400),
        js("a.records_empty", A, {"dataframe_records": []}, 51, 400),
        js("a.records_of_lists", A, {"dataframe_records": [[0.0, 1.0]]}, None, 400),
        js("a.records_missing_key", A, {"dataframe_records": [{"a": 0.0, "b": 1.0}, {"a": 5.0}]},
           None, 400),
        js("a.inputs_columns", A, {"inputs": {"a": [0.0, 5.0], "b": [1.0, 2.0]}}, 52, 200),
        js("a.inputs_rows", A, {"inputs": [{"a": 0.0, "b": 1.0}]}, 53, 200),
        js("a.inputs_scalars", A, {"inputs": {"a": 1.0, "b": 2.0}}, 54, 200),
        js("a.inputs_2d_list", A, {"inputs": [[0.0, 1.0]]}, 55, 400),
        js("a.inputs_unequal_lengths", A, {"inputs": {"a": [1.0], "b": [2.0, 3.0]}}, 56, 400),
        js("a.inputs_scalar_and_list", A, {"inputs": {"a": 1.0, "b": [2.0, 3.0]}}, None, 400),
        js("a.instances_rows", A, {"instances": [{"a": 0.0, "b": 1.0}, {"a": 5.0, "b": 2.0}]},
           None, 200),
        js("a.instances_missing_key", A, {"instances": [{"a": 1.0, "b": 2.0}, {"a": 1.0}]},
           57, 400),
        js("a.instances_not_object_later", A, {"instances": [{"a": 1.0, "b": 2.0}, 5]}, 58, 400),
        js("a.instances_columns_object", A, {"instances": {"a": [0.0], "b": [1.0]}}, None, 200),
        js("a.inputs_text_in_double", A, {"inputs": {"a": ["abc"], "b": [1.0]}}, None, 400),
        js("a.params_ignored", A, dict(split(["a", "b"], A_ROWS), params={"x": 1}), None, 200),
        js("a.split_string_index", A, split(["a", "b"], A_ROWS, index=["x", "y"])),
        js("a.llm_messages", A, {"messages": [{"role": "user", "content": "hi"}]}),
        js("a.llm_input_with_columns", A, {"input": "x", "a": 0.0, "b": 1.0}),
        js("a.llm_prompt_lists", A, {"prompt": "x", "a": [0.0, 5.0], "b": [1.0, 2.0]}),
        csv("a.csv_charset_latin1", A, "a,b\n0.0,1.0\n", None, 415,
            content_type="text/csv; charset=latin-1"),
        csv("a.csv_semicolons", A, "a;b\n0.0;1.0\n"),
        csv("a.csv_ints", A, "a,b\n0,1\n5,2\n"),
        csv("a.csv_empty_cell", A, "a,b\n,1.0\n"),
        csv("a.csv", A, "a,b\n0.0,1.0\n5.0,2.0\n", 90, 200),
        csv("a.csv_crlf", A, "a,b\r\n0.0,1.0\r\n5.0,2.0\r\n", None, 200),
        csv("a.csv_quoted", A, '"a","b"\n"0.0","1.0"\n', None, 200),
        csv("a.csv_no_header", A, "0.0,1.0\n5.0,2.0\n", 91, 400),
        csv("a.csv_empty", A, "", 92, 400),
        raw("a.csv_invalid_utf8", A, b"a,b\n0.0,1.0\n\xff", "text/csv", 93, 400),
        csv("a.csv_text_in_double", A, "a,b\nx,1.0\n", 95, 400),
        csv("a.csv_header_only", A, "a,b\n", None, 400),
        csv("a.csv_index_column", A, ",a,b\n0,0.0,1.0\n", None, 200),
        csv("a.csv_extra_field", A, "a,b\n9,0.0,1.0\n", None, 200),
        csv("a.csv_missing_column", A, "a\n0.0\n", None, 400),
        raw("a.parquet_empty", A, b"", "application/vnd.apache.parquet", 96, 400),
        raw("a.parquet_json_body", A, b'{"inputs": [1]}', "application/vnd.apache.parquet",
            None, 400),
    ]


def model_a_parquet_cases() -> List[Case]:
    return [
        parquet("a.parquet_exact", A, {"a": ([0.0, 5.0], "float64"),
                                       "b": ([1.0, 2.0], "float64")}, None, 200),
        parquet("a.parquet_int64", A, {"a": ([0, 5], "int64"), "b": ([1, 2], "int64")},
                None, 400),
        parquet("a.parquet_float32", A, {"a": ([0.0, 5.0], "float32"),
                                         "b": ([1.0, 2.0], "float32")}, None, 200),
    ]


def echo_cases() -> List[Case]:
    """Model N (no signature): what each JSON shape turns into (spec 4.7, items 59-64)."""
    inputs = [
        ("int_list", [1, 2, 3]), ("mixed_numbers", [1, 2.5]), ("matrix", [[1, 2], [3, 4]]),
        ("strings", ["a", "b"]), ("mixed_objects", [1, "a", None]), ("ragged", [[1, 2], [3]]),
        ("dict_of_lists", {"a": [1, 2], "b": ["x", "y"]}), ("dict_of_scalars", {"a": 1, "b": "x"}),
        ("list_of_dicts", [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]), ("int", 5),
        ("string", "hello"), ("null", None), ("empty_list", []), ("empty_dict", {}),
        ("bools", [True, False]), ("nan", [float("nan"), 1.0]), ("big_int", [2 ** 70]),
        ("nested_dict", {"a": {"b": [1, 2]}}), ("unicode", ["caf\u00e9"]),
        ("mixed_rows", [[1, "a"], [2, "b"]]), ("bool_and_int", [True, 1]),
        ("dict_of_matrices", {"a": [[1, 2], [3, 4]]}), ("rows_with_lists", [{"a": [1, 2]}]),
        ("float", 2.5), ("true", True), ("negative_zero", [-0.0]), ("int64_min", [-2 ** 63]),
    ]
    items = {"ragged": (59, 400), "int_list": (60, 200), "dict_of_scalars": (61, 200),
             "empty_list": (62, 200)}
    result = [js(f"echo.inputs.{name}", N, {"inputs": value}, *items.get(name, (None, None)))
              for name, value in inputs]
    result += [
        js("echo.instances.rows", N, {"instances": [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]}),
        js("echo.instances.rows_of_lists", N, {"instances": [{"a": [1, 2]}, {"a": [3, 4]}]}),
        js("echo.instances.list", N, {"instances": [1, 2, 3]}),
        js("echo.instances.ragged_rows", N, {"instances": [{"a": 1}, {"b": 2}]}),
        js("echo.instances.matrix", N, {"instances": [[1, 2], [3, 4]]}),
        js("echo.instances.empty", N, {"instances": []}),
        js("echo.instances.object", N, {"instances": {"a": [1, 2]}}),
        js("echo.split_string_index", N, split(["a"], [[1], [2]], index=["x", "y"])),
        js("echo.split_datetime_text", N, split(["t"], [["2024-01-02"]])),
        js("echo.split_nested_values", N, split(["a"], [[{"k": [1]}], [[1, 2]]])),
        js("echo.records_nested_values", N, {"dataframe_records": [{"a": {"k": 1}, "b": [1]}]}),
        js("echo.records_bools_and_null", N, {"dataframe_records": [{"a": True}, {"a": None}]}),
        js("echo.split", N, split(["a", "b"], [[1, "x"], [2, None]])),
        js("echo.split_no_columns", N, split(None, [[1, 2], [3, 4]])),
        js("echo.split_index", N, split(["a"], [[1], [2]], index=[5, 6])),
        js("echo.split_empty", N, split(["a"], [])),
        js("echo.split_duplicate_columns", N, split(["a", "a"], [[1, 2]])),
        js("echo.records", N, {"dataframe_records": [{"a": 1, "b": "x"}, {"b": "y"}]}),
        js("echo.records_of_lists", N, {"dataframe_records": [[1, 2], [3, 4]]}),
        js("echo.records_empty", N, {"dataframe_records": []}),
        js("echo.params_without_schema", N, {"inputs": [1], "params": {"x": 1}}, 63, 200),
        js("echo.params_absent", N, {"inputs": [1]}, 64, 200),
        js("echo.params_null", N, {"inputs": [1], "params": None}),
        js("echo.params_empty", N, {"inputs": [1], "params": {}}),
        js("echo.params_list", N, {"inputs": [1], "params": [1, 2]}),
        js("echo.llm_prompt", N, {"prompt": "x", "temperature": 0.2}, 108, 200),
        js("echo.llm_messages", N, {"messages": [{"role": "user", "content": "hi"}],
                                    "temperature": 0.1}),
        csv("echo.csv", N, "a,b\n1,x\n2,\n"),
        csv("echo.csv_extra_field", N, "a,b\n9,1,x\n"),
        csv("echo.csv_unnamed_index", N, ",a\n0,1\n"),
        raw("echo.csv_bom", N, b"\xef\xbb\xbfa,b\n1,2\n", "text/csv"),
    ]
    if parquet_support():
        result.append(parquet("echo.parquet", N, {"a": ([1, 2], "int64"),
                                                  "s": (["x", None], "object")}))
    return result


def schema_variant_cases() -> List[Case]:
    """Prompt column, unnamed columns, complex columns and tensors (items 65-67, 81-89)."""
    ok_complex = {"arr": [1, 2], "obj": {"name": "ann", "age": 3}, "m": {"k": 1.0},
                  "any": {"deep": [1, {"x": None}]}}

    def complex_row(**changes: Any) -> Dict[str, Any]:
        return {**ok_complex, **changes}

    return [
        js("prompt.inputs_strings", PROMPT, {"inputs": ["a", "b"]}, 65, 200),
        js("prompt.inputs_ints", PROMPT, {"inputs": [1, 2]}, 66, 200),
        js("prompt.llm_prompt", PROMPT, {"prompt": "hello"}, None, 200),
        js("prompt.llm_prompt_list", PROMPT, {"prompt": ["hello", "x"]}, None, 200),
        js("prompt.llm_messages", PROMPT, {"messages": [{"role": "user", "content": "hi"}]},
           None, 400),
        js("prompt.split", PROMPT, split(["prompt"], [["a"], [None]])),
        js("prompt.split_int", PROMPT, split(["prompt"], [[1]])),
        csv("prompt.csv_numeric", PROMPT, "prompt\n123\n\n"),
        js("unnamed.inputs_dict", UNNAMED, {"inputs": {"x": [1]}}, 67, 400),
        js("unnamed.split", UNNAMED, split(None, [[1.5, 2], [3.5, 4]])),
        js("unnamed.split_named", UNNAMED, split(["p", "q", "r"], [[1.5, 2, 9]])),
        js("unnamed.split_one_column", UNNAMED, split(None, [[1.5], [2.5]])),
        js("unnamed.inputs_matrix", UNNAMED, {"inputs": [[1.5, 2], [3.5, 4]]}),
        js("unnamed.inputs_list", UNNAMED, {"inputs": [1.5, 2.5]}),
        csv("unnamed.csv", UNNAMED, "p,q\n1.5,2\n"),
        js("complex.records_ok", COMPLEX, {"dataframe_records": [complex_row()]}, 85, 200),
        js("complex.split_ok", COMPLEX, split(list(ok_complex), [list(ok_complex.values())])),
        js("complex.inputs_object_ok", COMPLEX, {"inputs": complex_row()}),
        js("complex.inputs_rows_ok", COMPLEX, {"inputs": [complex_row()]}),
        js("complex.instances_rows", COMPLEX, {"instances": [complex_row()]}),
        js("complex.arr_float", COMPLEX, {"dataframe_records": [complex_row(arr=[1.5, 2])]},
           81, 400),
        js("complex.arr_text", COMPLEX, {"dataframe_records": [complex_row(arr=["1", "2"])]}),
        js("complex.arr_scalar", COMPLEX, {"dataframe_records": [complex_row(arr=5)]}),
        js("complex.arr_empty", COMPLEX, {"dataframe_records": [complex_row(arr=[])]}),
        js("complex.obj_missing_name", COMPLEX,
           {"dataframe_records": [complex_row(obj={"age": 3})]}, 82, 400),
        js("complex.obj_unknown_property", COMPLEX,
           {"dataframe_records": [complex_row(obj={"name": "a", "zzz": 1})]}, 83, 400),
        js("complex.obj_wrong_type", COMPLEX,
           {"dataframe_records": [complex_row(obj={"name": 1})]}),
        js("complex.obj_not_dict", COMPLEX, {"dataframe_records": [complex_row(obj="x")]}),
        js("complex.map_text_value", COMPLEX, {"dataframe_records": [complex_row(m={"k": "v"})]},
           84, 400),
        js("complex.map_int_value", COMPLEX, {"dataframe_records": [complex_row(m={"k": 1})]}),
        js("complex.map_not_dict", COMPLEX, {"dataframe_records": [complex_row(m=[1])]}),
        js("complex.any_omitted", COMPLEX, {"dataframe_records": [
            {k: v for k, v in ok_complex.items() if k != "any"}]}),
        js("complex.inputs_object_2d_arr", COMPLEX, {"inputs": complex_row(arr=[[1, 2]])}),
        csv("complex.csv", COMPLEX, "arr,obj,m\n1,2,3\n"),
        js("tensor.inputs_matrix", T, {"inputs": [[1, 2], [3, 4]]}, 86, 200),
        js("tensor.inputs_vector", T, {"inputs": [1, 2]}, 87, 400),
        js("tensor.inputs_floats", T, {"inputs": [[1.5, 2.5]]}),
        js("tensor.inputs_three_columns", T, {"inputs": [[1, 2, 3]]}),
        js("tensor.instances_matrix", T, {"instances": [[1, 2], [3, 4]]}),
        js("tensor.split_three_columns", T, split(["a", "b", "c"], [[1, 2, 3]]), 88, 400),
        js("tensor.split_two_columns", T, split(["a", "b"], [[1, 2], [3, 4]])),
        js("tensor.split_list_cells", T, split(["a"], [[[1, 2]], [[3, 4]]])),
        js("tensor.split_one_scalar_column", T, split(["a"], [[1], [2]])),
        # one column: with several, MLflow names whichever its set iteration meets first
        js("tensor.split_empty", T, split(["a"], [])),
        js("tensor.inputs_text", T, {"inputs": [["a", "b"]]}),
        js("tensor.inputs_dict", T, {"inputs": {"x": [[1, 2]]}}),
        csv("tensor.csv", T, "a,b\n1,2\n", 89, 400),
        js("named_tensor.inputs_dict", NAMED_T, {"inputs": {"a": [[1.0, 2.0]], "b": [3]}}),
        js("named_tensor.inputs_missing_b", NAMED_T, {"inputs": {"a": [[1.0, 2.0]]}}),
        js("named_tensor.inputs_extra", NAMED_T, {"inputs": {"a": [[1, 2]], "b": [3], "c": [1]}}),
        js("named_tensor.inputs_float_for_int", NAMED_T, {"inputs": {"a": [[1, 2]], "b": [1.5]}}),
        js("named_tensor.inputs_bad_shape", NAMED_T, {"inputs": {"a": [1.0, 2.0], "b": [3]}}),
        js("named_tensor.instances", NAMED_T, {"instances": [{"a": [1.0, 2.0], "b": 3}]}),
        js("named_tensor.split_list_cells", NAMED_T, split(["a", "b"], [[[1.0, 2.0], 3]])),
        js("named_tensor.inputs_list", NAMED_T, {"inputs": [[1.0, 2.0]]}),
        js("named_tensor.records_list_cells", NAMED_T,
           {"dataframe_records": [{"a": [1.0, 2.0], "b": 3}]}),
    ]


def schema_parquet_cases() -> List[Case]:
    """Parquet (no layer A) against the other schema kinds."""
    return [
        parquet("tensor.parquet_float32", T, {"a": ([1.0], "float32"), "b": ([2.0], "float32")}),
        parquet("tensor.parquet_float64", T, {"a": ([1.0], "float64"), "b": ([2.0], "float64")}),
        parquet("unnamed.parquet", UNNAMED, {"p": ([1.5], "float64"), "q": ([2], "int64")}),
        parquet("unnamed.parquet_int_first", UNNAMED, {"p": ([3], "int64"), "q": ([2], "int64")}),
        parquet("unnamed.parquet_zero_one_first", UNNAMED,
                {"p": ([1], "int64"), "q": ([2], "int64")}),
        parquet("prompt.parquet", PROMPT, {"prompt": (["hi", None], "object")}),
        parquet("prompt.parquet_int", PROMPT, {"prompt": ([1], "int64")}),
    ]


def cases() -> List[Case]:
    result = model_a_cases() + echo_cases() + colsig_cases() + schema_variant_cases()
    if parquet_support():
        result += model_a_parquet_cases() + colsig_parquet_cases() + schema_parquet_cases()
    return result
