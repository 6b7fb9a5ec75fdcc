"""Build the real MLflow-saved model fixtures that tinyserve's tests load.

Run from the repository root with the MLflow venv (MLflow 3.17.2):

    python scripts/make_fixtures.py [--out tests/fixtures/models]   # rebuild, then check
    python scripts/make_fixtures.py --check                         # only check

Every model directory is deleted and re-created with `mlflow.<flavor>.save_model` (no tracking
store). Training data is tiny and fixed, so the models predict the same on every rebuild; only
`model_uuid`, `utc_time_created` and zip timestamps inside `.skops` files change.

The model classes and the echo helpers live at module level of this script on purpose: classes
defined in `__main__` are pickled *by value* by cloudpickle, like a user's notebook model.
This script has no `from __future__ import annotations`: MLflow reads the predict type hints
at save time and cloudpickle stores `__annotations__`; stringified hints would not resolve
after unpickling. Pickles are written with file *basenames* instead of this machine's paths
(see `portable_pickles`).

Why one long script: every fixture is saved by the same MLflow process and checked by the
same run, so the set stays consistent; the model classes it pickles must live in it.
"""
import argparse
import contextlib
import decimal
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_RECORD_ENV_VARS_IN_MODEL_LOGGING", "false")

import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pydantic  # noqa: E402
from mlflow.models import ModelSignature  # noqa: E402
from mlflow.pyfunc import PythonModel  # noqa: E402
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema, TensorSpec  # noqa: E402
from mlflow.types.schema import AnyType, Array, Map, Object, Property  # noqa: E402

from fixture_checks import CHECKS, check  # noqa: E402  (scripts/ is sys.path[0])

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCES = REPO_ROOT / "scripts" / "fixture_sources"
DEFAULT_OUT = REPO_ROOT / "tests" / "fixtures" / "models"
# MLflow records the absolute path of a models-from-code file; written with this root instead.
PORTABLE_ROOT = "/src/tinyserve"
# Paths of this machine that must not end up in any fixture file.
MACHINE_PATHS = (str(REPO_ROOT).encode(), sys.prefix.encode())


# --------------------------------------------------------------------------- echo helpers


def describe(x):
    """A JSON-able, deterministic description of exactly what a model received."""
    if isinstance(x, pd.DataFrame):
        columns = [x.iloc[:, j].tolist() for j in range(x.shape[1])]
        return {"type": "DataFrame",
                "columns": [repr(c) for c in x.columns],
                "dtypes": [str(d) for d in x.dtypes],
                "index": [repr(i) for i in x.index],
                "rows": [[repr(v) for v in row] for row in zip(*columns)]}
    if isinstance(x, np.ndarray):
        return {"type": "ndarray", "dtype": str(x.dtype), "shape": list(x.shape),
                "values": repr(x.tolist())}
    if isinstance(x, dict):
        return {"type": "dict", "items": {str(k): describe(v) for k, v in x.items()}}
    if isinstance(x, list):
        return {"type": "list", "items": [describe(v) for v in x]}
    return {"type": type(x).__name__, "repr": repr(x)}


def describe_params(params):
    """`None` stays `None` (no params passed); otherwise the repr of every value."""
    if params is None:
        return None
    return {str(k): repr(v) for k, v in params.items()}


def echo(model_input, params):
    return {"input": describe(model_input), "params": describe_params(params)}


class EchoModel(PythonModel):
    """Answers with a description of its input and params (Models N, C, T and friends)."""

    def predict(self, context, model_input, params=None):
        return echo(model_input, params)


class LegacyEchoModel(PythonModel):
    """Old-style predict: context under another name, no `params` argument at all."""

    def predict(self, ctx, data):
        return echo(data, None)


def _raise_mlflow_error():
    raise mlflow.exceptions.MlflowException(
        "custom mlflow error", error_code=mlflow.protos.databricks_pb2.RESOURCE_DOES_NOT_EXIST)


def _raise_value_error():
    raise ValueError("boom from model")


# What Model P returns for each `kind` param: outputs that exercise response encoding.
PARAM_KIND_OUTPUTS = {
    "np_int": lambda: np.array([1, 2, 3]),
    "df_nan": lambda: pd.DataFrame({"a": [1, 2], "b": ["x", None], "c": [1.5, float("nan")]}),
    "series": lambda: pd.Series([1, 2, 3], name="s"),
    "series_unnamed": lambda: pd.Series([1.5, 2.5]),
    "float_special": lambda: np.array([1.0, np.nan, np.inf, -np.inf]),
    "datetime_ns": lambda: np.array(["2024-01-02T03:04:05", "2024-02-03"], dtype="datetime64[ns]"),
    "datetime_s": lambda: np.array(["2024-01-02T03:04:05", "2024-02-03"], dtype="datetime64[s]"),
    "bytes": lambda: b"\x00\x01hello",
    "bytes_array": lambda: np.array([b"ab", b"cde"]),
    "object_array": lambda: np.array([1, "a", None, np.int64(5), b"xy"], dtype=object),
    "mixed_list": lambda: [1, "two", 3.0, None, True],
    "dict": lambda: {"x": np.array([1, 2]), "y": "z", "n": float("nan")},
    "scalar": lambda: 42,
    "np_scalar": lambda: np.int32(7),
    "none": lambda: None,
    "string": lambda: "caf\u00e9",
    "timestamp": lambda: pd.Timestamp("2024-01-02T03:04:05"),
    "tuple": lambda: (1, 2),
    "set": lambda: {1, 2},
    "decimal": lambda: decimal.Decimal("1.5"),
    "df_predictions_col": lambda: pd.DataFrame({"predictions": [1, 2]}),
    "raise_value": _raise_value_error,
    "raise_mlflow": _raise_mlflow_error,
}


class ParamsModel(PythonModel):
    """Model P: no input schema; the `kind` param picks what to return."""

    def predict(self, context, model_input, params=None):
        kind = params.get("kind", "echo") if params else "echo"
        if kind == "echo":
            return echo(model_input, params)
        if kind == "sleep":
            time.sleep(float(params["temperature"]))
            return "slept"
        if kind not in PARAM_KIND_OUTPUTS:
            raise ValueError(f"unknown kind {kind!r}")
        return PARAM_KIND_OUTPUTS[kind]()


class StringLengthModel(PythonModel):
    """Model H: the signature comes from the `list[str]` type hint."""

    def predict(self, model_input: list[str], params=None) -> list[int]:
        return [len(text) for text in model_input]


class RecordsEchoModel(PythonModel):
    """Type hint `list[dict[str, Any]]`: echoes the records it received."""

    def predict(self, model_input: list[dict[str, Any]], params=None) -> list[str]:
        return [json.dumps(echo(model_input, params), sort_keys=True)]


class Person(pydantic.BaseModel):
    name: str
    age: int = 0


class PydanticGreetModel(PythonModel):
    """Type hint `list[Person]` (pydantic): signature is one unnamed object column."""

    def predict(self, model_input: list[Person], params=None) -> list[str]:
        return [f"{type(p).__name__}:{p.name}:{p.age}" for p in model_input]


class ArtifactModel(PythonModel):
    """Spec 12.4 (2): artifacts, code_paths, model_config, metadata, params."""

    def load_context(self, context):
        with open(context.artifacts["lookup"], encoding="utf-8") as f:
            self.scale = float(json.load(f)["scale"])
        self.prefix = context.model_config["prefix"]
        self.threshold = float(context.model_config["threshold"])

    def predict(self, context, model_input, params=None):
        import tiny_helpers

        multiplier = float((params or {}).get("multiplier", 1.0))
        scores = [float(x) * self.scale * multiplier for x in model_input["x"]]
        labels = [tiny_helpers.label_for(s, self.threshold, self.prefix) for s in scores]
        return pd.DataFrame({"score": scores, "label": labels})


class ColumnsDictModel(PythonModel):
    """Answers a dict of columns, one value per row (chunked `tinyserve predict` joins them)."""

    def predict(self, context, model_input, params=None):
        total = (model_input["a"] + model_input["b"]).to_numpy()
        return {"total": total, "label": np.where(total > 3, "big", "small")}


class DoublerModel(PythonModel):
    """Tiny model for the compressed-pickle fixture."""

    def predict(self, context, model_input, params=None):
        return model_input * 2


def add_one(model_input):
    """Function model: `python_model=` a plain function."""
    return model_input + 1


# --------------------------------------------------------------------------- saving


@contextlib.contextmanager
def portable_pickles():
    """Pickle code objects and module globals with file basenames, not this machine's paths.

    cloudpickle stores `co_filename` of every by-value function and the `__file__` of its
    module (this script, MLflow's predict wrapper); nothing reads them back at load time.
    """
    from cloudpickle import cloudpickle as cp

    table = cp.Pickler._dispatch_table
    code_reduce, getnewargs = table[types.CodeType], cp.Pickler._function_getnewargs

    def portable_code_reduce(code):
        return code_reduce(code.replace(co_filename=os.path.basename(code.co_filename)))

    def portable_getnewargs(self, func):
        code, base_globals, name, defaults, closure = getnewargs(self, func)
        if isinstance(base_globals.get("__file__"), str):
            base_globals["__file__"] = os.path.basename(base_globals["__file__"])
        return code, base_globals, name, defaults, closure

    table[types.CodeType], cp.Pickler._function_getnewargs = (portable_code_reduce,
                                                              portable_getnewargs)
    try:
        yield
    finally:
        table[types.CodeType], cp.Pickler._function_getnewargs = code_reduce, getnewargs


@contextlib.contextmanager
def env_var(name, value):
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            del os.environ[name]
        else:
            os.environ[name] = old


def make_portable_mlmodel(model_dir: Path) -> None:
    """Replace the repository's absolute location in MLmodel (`model_code_path`)."""
    mlmodel = model_dir / "MLmodel"
    text = mlmodel.read_text(encoding="utf-8")
    mlmodel.write_text(text.replace(str(REPO_ROOT), PORTABLE_ROOT), encoding="utf-8")


def train_logistic_regression():
    """Model A's estimator: predicts 0 for (0, 1) and 1 for (5, 2)."""
    from sklearn.linear_model import LogisticRegression

    frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 1.0, 4.0, 5.0, 6.0, 5.0],
                          "b": [1.0, 0.5, 1.5, 2.0, 1.0, 2.0, 0.5, 1.5]})
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    return LogisticRegression(random_state=0).fit(frame, labels)


MODEL_A_EXAMPLE = pd.DataFrame({"a": [0.0, 1.0], "b": [1.0, 0.5]})
ALL_SCALARS = Schema([
    ColSpec("boolean", "bo"), ColSpec("integer", "i32"), ColSpec("long", "i64"),
    ColSpec("float", "f32"), ColSpec("double", "f64"), ColSpec("string", "s"),
    ColSpec("binary", "bin"), ColSpec("datetime", "dt"),
    ColSpec("double", "opt", required=False),
])
COMPLEX_COLUMNS = Schema([
    ColSpec(Array("long"), "arr"),
    ColSpec(Object([Property("name", "string"), Property("age", "long", required=False)]), "obj"),
    ColSpec(Map("double"), "m"),
    ColSpec(AnyType(), "any", required=False),
])
MODEL_P_PARAMS = ParamSchema([
    ParamSpec("kind", "string", "echo"), ParamSpec("temperature", "double", 0.5),
    ParamSpec("max_tokens", "long", 16), ParamSpec("flag", "boolean", False),
    ParamSpec("when", "datetime", "2024-01-02"), ParamSpec("ids", "long", [1, 2], (-1,)),
])
ARTIFACT_SIGNATURE = ModelSignature(
    inputs=Schema([ColSpec("double", "x"), ColSpec("string", "note", required=False)]),
    outputs=Schema([ColSpec("double", "score"), ColSpec("string", "label")]),
    params=ParamSchema([
        ParamSpec("multiplier", "double", 1.0), ParamSpec("tag", "string", "none"),
        ParamSpec("top_k", "long", 3), ParamSpec("verbose", "boolean", False),
        ParamSpec("ids", "long", [1, 2], (-1,)), ParamSpec("as_of", "datetime", "2024-01-02"),
    ]),
)
TEXT_IN_LONG_OUT = ModelSignature(inputs=Schema([ColSpec("string", "text")]),
                                  outputs=Schema([ColSpec("long")]))


def echo_with(inputs: Schema):
    return {"python_model": EchoModel(), "signature": ModelSignature(inputs=inputs)}


def sklearn_fixtures(path: Path) -> None:
    from mlflow import sklearn as mlflow_sklearn

    estimator = train_logistic_regression()
    variants = {
        "sk_skops": {},
        "sk_pickle": {"serialization_format": "pickle"},
        "sk_cloudpickle": {"serialization_format": "cloudpickle"},
        "sk_proba": {"pyfunc_predict_fn": "predict_proba"},
    }
    for name, options in variants.items():
        mlflow_sklearn.save_model(estimator, str(path / name), input_example=MODEL_A_EXAMPLE,
                                  **options)
    mlflow_sklearn.save_model(estimator, str(path / "sk_nosig"), signature=False)


def pyfunc_fixtures(path: Path, work: Path) -> None:
    """Save every custom-pyfunc fixture; `work` is the cwd, so artifact URIs stay relative."""
    (work / "lookup.json").write_text(json.dumps({"scale": 0.5}), encoding="utf-8")
    shutil.copy(SOURCES / "tiny_helpers.py", work / "tiny_helpers.py")
    shutil.copy(SOURCES / "ref_models.py", work / "ref_models.py")
    sys.path.insert(0, str(work))
    from ref_models import CodeRefModel

    fixtures = {
        "pyfunc_echo": {"python_model": EchoModel(), "signature": False},
        "pyfunc_legacy_predict": {"python_model": LegacyEchoModel(), "signature": False},
        "pyfunc_params": {"python_model": ParamsModel(),
                          "signature": ModelSignature(inputs=None, params=MODEL_P_PARAMS)},
        "pyfunc_colsig": echo_with(ALL_SCALARS),
        "pyfunc_complex": echo_with(COMPLEX_COLUMNS),
        "pyfunc_tensor": echo_with(Schema([TensorSpec(np.dtype("float32"), (-1, 2))])),
        "pyfunc_named_tensor": echo_with(Schema([
            TensorSpec(np.dtype("float64"), (-1, 2), "a"),
            TensorSpec(np.dtype("int64"), (-1,), "b")])),
        "pyfunc_unnamed_cols": echo_with(Schema([ColSpec("double"), ColSpec("long")])),
        "pyfunc_prompt": echo_with(Schema([ColSpec("string", "prompt")])),
        "pyfunc_typehint": {"python_model": StringLengthModel(), "input_example": ["a", "bb"]},
        "pyfunc_typehint_dict": {"python_model": RecordsEchoModel(),
                                 "input_example": [{"k": 1, "s": "x"}]},
        "pyfunc_typehint_pydantic": {"python_model": PydanticGreetModel(),
                                     "input_example": [{"name": "ann", "age": 3}]},
        "pyfunc_artifacts": {
            "python_model": ArtifactModel(), "artifacts": {"lookup": "lookup.json"},
            "code_paths": ["tiny_helpers.py"],
            "model_config": {"prefix": "cfg-", "threshold": 0.5},
            "metadata": {"owner": "spec-team"}, "signature": ARTIFACT_SIGNATURE,
            "input_example": (pd.DataFrame({"x": [1.0, -2.0]}), {"multiplier": 2.0})},
        "pyfunc_function": {"python_model": add_one,
                            "input_example": pd.DataFrame({"x": [1.0, 2.0]})},
        "pyfunc_dict_output": {"python_model": ColumnsDictModel(),
                               "signature": ModelSignature(inputs=Schema([
                                   ColSpec("double", "a"), ColSpec("double", "b")]))},
        "pyfunc_code_ref": {"python_model": CodeRefModel(), "code_paths": ["ref_models.py"],
                            "signature": False},
    }
    for name, options in fixtures.items():
        mlflow.pyfunc.save_model(str(path / name), **options)
    with env_var("MLFLOW_LOG_MODEL_COMPRESSION", "lzma"):
        mlflow.pyfunc.save_model(str(path / "pyfunc_compressed"), python_model=DoublerModel(),
                                 input_example=pd.DataFrame({"x": [1.0, 2.0]}))


def code_fixtures(path: Path) -> None:
    mlflow.pyfunc.save_model(str(path / "code_model"),
                             python_model=str(SOURCES / "model_code.py"),
                             model_config={"factor": 3}, signature=TEXT_IN_LONG_OUT)
    mlflow.pyfunc.save_model(str(path / "code_model_callable"),
                             python_model=str(SOURCES / "model_code_callable.py"),
                             model_config={"greeting": "hello"},
                             input_example=pd.DataFrame({"text": ["ann", "bo"]}))
    for name in ("code_model", "code_model_callable"):
        make_portable_mlmodel(path / name)


def build(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in CHECKS:
        shutil.rmtree(out / name, ignore_errors=True)
    old_cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as work, portable_pickles():
        os.chdir(work)
        try:
            sklearn_fixtures(out)
            pyfunc_fixtures(out, Path(work))
            code_fixtures(out)
        finally:
            os.chdir(old_cwd)
    missing = sorted(name for name in CHECKS if not (out / name / "MLmodel").is_file())
    leaks = sorted(str(p.relative_to(out)) for p in out.rglob("*")
                   if p.is_file() and any(m in p.read_bytes() for m in MACHINE_PATHS))
    if missing or leaks:
        raise SystemExit(f"fixtures not written: {missing}; absolute paths left in: {leaks}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="only check existing fixtures")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    if args.check:
        return 1 if check(out) else 0
    build(out)
    # A fresh interpreter elsewhere: nothing from this build (sys.path, modules) helps loading.
    with tempfile.TemporaryDirectory() as elsewhere:
        return subprocess.call([sys.executable, str(Path(__file__).resolve()), "--check",
                                "--out", str(out)], cwd=elsewhere)


if __name__ == "__main__":
    sys.exit(main())
