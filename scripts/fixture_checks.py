"""Smoke-check the model fixtures with real MLflow: load each one, predict once, compare.

Used by `scripts/make_fixtures.py --check` (MLflow venv). `CHECKS` is also the list of fixture
directory names that `make_fixtures.py` owns and rebuilds.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple

import mlflow
import numpy as np
import pandas as pd

SPLIT_A = pd.DataFrame({"a": [0.0, 5.0], "b": [1.0, 2.0]})
ONE_X = pd.DataFrame({"x": [1.0]})
ALL_SCALARS_ROW = pd.DataFrame({
    "bo": [True], "i32": np.array([1], dtype="int32"), "i64": [2],
    "f32": np.array([1.5], dtype="float32"), "f64": [2.5], "s": ["x"], "bin": [b"hi"],
    "dt": pd.to_datetime(["2024-01-02"]),
})
ECHO_OF_1_2_3 = {"input": {"type": "ndarray", "dtype": "int64", "shape": [3],
                           "values": "[1, 2, 3]"}, "params": None}
MODEL_P_FILLED_PARAMS = {"kind": "'echo'", "temperature": "1.0", "max_tokens": "16",
                         "flag": "False", "when": "datetime.date(2024, 1, 2)", "ids": "[1, 2]"}

# fixture name -> (model input, params, expected prediction or a predicate on it)
CHECKS: Dict[str, Tuple[Any, Optional[dict], Any]] = {
    "sk_skops": (SPLIT_A, None, [0, 1]),
    "sk_pickle": (SPLIT_A, None, [0, 1]),
    "sk_cloudpickle": (SPLIT_A, None, [0, 1]),
    "sk_proba": (SPLIT_A, None, lambda p: p.shape == (2, 2) and p[0, 0] > 0.5 > p[1, 0]),
    "sk_nosig": (SPLIT_A, None, [0, 1]),
    "pyfunc_echo": (np.array([1, 2, 3]), None, ECHO_OF_1_2_3),
    "pyfunc_legacy_predict": ([1], None, {"input": {"type": "list", "items": [
        {"type": "int", "repr": "1"}]}, "params": None}),
    "pyfunc_params": (ONE_X, {"temperature": 1},
                      lambda p: p["params"] == MODEL_P_FILLED_PARAMS),
    "pyfunc_colsig": (ALL_SCALARS_ROW, None,
                      lambda p: p["input"]["dtypes"][-1] == "datetime64[ns]"
                      and p["input"]["rows"][0][6] == "b'hi'"),
    "pyfunc_complex": (pd.DataFrame({"arr": [[1, 2]], "obj": [{"name": "ann"}],
                                     "m": [{"k": 1.0}]}), None,
                       lambda p: p["input"]["rows"][0][:2] == ["[1, 2]", "{'name': 'ann'}"]),
    "pyfunc_tensor": (np.array([[1, 2]], dtype="float32"), None,
                      lambda p: p["input"]["dtype"] == "float32"),
    "pyfunc_named_tensor": ({"a": np.array([[1.0, 2.0]]), "b": np.array([3])}, None,
                            lambda p: p["input"]["items"]["b"]["dtype"] == "int64"),
    "pyfunc_unnamed_cols": (pd.DataFrame([[1.0, 2]]), None,
                            lambda p: p["input"]["dtypes"] == ["float64", "int64"]),
    "pyfunc_prompt": (pd.DataFrame({"prompt": ["hi"]}), None,
                      lambda p: p["input"]["rows"] == [["'hi'"]]),
    "pyfunc_typehint": (["a", "bbb"], None, [1, 3]),
    "pyfunc_typehint_dict": ([{"k": 1}], None, lambda p: '"type": "list"' in p[0]),
    "pyfunc_typehint_pydantic": ([{"name": "bo", "age": 4}], None, ["Person:bo:4"]),
    "pyfunc_artifacts": (pd.DataFrame({"x": [4.0, -2.0]}), {"multiplier": 2.0},
                         lambda p: p["label"].tolist() == ["cfg-high", "cfg-low"]
                         and p["score"].tolist() == [4.0, -2.0]),
    "pyfunc_compressed": (pd.DataFrame({"x": [1.0, 2.0]}), None,
                          lambda p: p["x"].tolist() == [2.0, 4.0]),
    "pyfunc_function": (pd.DataFrame({"x": [1.0, 2.0]}), None,
                        lambda p: p["x"].tolist() == [2.0, 3.0]),
    "pyfunc_dict_output": (SPLIT_A, None, lambda p: p["total"].tolist() == [1.0, 7.0]
                           and p["label"].tolist() == ["small", "big"]),
    "pyfunc_code_ref": (ONE_X, None, {"class": "ref_models.CodeRefModel", "rows": 1}),
    "code_model": (pd.DataFrame({"text": ["ab", "abcd"]}), None, [6, 12]),
    "code_model_callable": (pd.DataFrame({"text": ["ann"]}), None, ["hello ann"]),
}


def matches(prediction: Any, expected: Any) -> bool:
    if isinstance(expected, Callable):  # type: ignore[arg-type]
        return bool(expected(prediction))
    if isinstance(prediction, np.ndarray):
        prediction = prediction.tolist()
    return prediction == expected


def check(out: Path) -> int:
    """Load every fixture with real MLflow, predict once and compare; returns the failures."""
    warnings.simplefilter("ignore")
    failures = 0
    for name, (model_input, params, expected) in CHECKS.items():
        model = mlflow.pyfunc.load_model(str(out / name))
        prediction = model.predict(model_input, params=params)
        ok = matches(prediction, expected)
        failures += not ok
        if isinstance(prediction, pd.DataFrame):
            prediction = prediction.to_dict("list")
        shown = prediction.tolist() if hasattr(prediction, "tolist") else prediction
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {str(shown)[:110]}")
    return failures
