"""The MLflow stand-ins: installed only when needed, and behaving like MLflow 3.17's names.

In-process tests use the stand-ins (the test venv has no MLflow). Comparisons with real MLflow
run the same table in the interpreter named by TINYSERVE_MLFLOW_PYTHON and are skipped, with
the reason shown, when it is unset: the validation table, MlflowException, and every fixture
loaded by tinyserve (with the stand-ins, with MLflow's real names) against MLflow's own loader.

Long because it is one table per MLflow name the stand-ins provide, kept together so the
MLflow-side comparison runs the very same table.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import unittest
from typing import Any, Dict, List, Optional, Union

from tests.support import FIXTURES, MLFLOW_PYTHON_ENV, REPO, child_env, fixture
from tinyserve import compat

COMPAT_DIR = os.path.join(REPO, "tinyserve", "compat")
MLFLOW_PYTHON = os.environ.get(MLFLOW_PYTHON_ENV)
MLFLOW_IN_THIS_PYTHON = compat.real_mlflow_available()
NEEDS_MLFLOW = unittest.skipUnless(
    MLFLOW_PYTHON, f"{MLFLOW_PYTHON_ENV} is not set: no real MLflow to compare with")

# (hint source, data): validated by the stand-in and by MLflow's _validate_model_input.
HINT_CASES = [
    ("list[str]", ["a", "b"]),
    ("list[str]", ["a", 1]),
    ("list[str]", "a"),
    ("list[str]", [1, 2, 3, 4, 5, 6]),
    ("list[str]", None),
    ("list[int]", [1, True, 2.5]),
    ("list[float]", [1.5, 2]),
    ("list[bool]", [True, 0]),
    ("list[dict[str, Any]]", [{"a": 1}, 3]),
    ("list[dict[str, int]]", [{"a": 1}, {"b": "x"}, {1: 2}]),
    ("list[dict[str, str]]", {"a": "b"}),
    ("list[list[str]]", [["a"], ["b", 2], "c"]),
    ("list[Optional[str]]", ["a", None, 3]),
    ("list[Union[int, str]]", [1, "a", None]),
    ("list[Any]", [1, "a", None]),
    ("Optional[list[str]]", None),
    ("List[str]", ["a", 2]),
    ("list[dict[str, list[int]]]", [{"a": [1, "x"]}]),
]
# Scripts for both interpreters: tinyserve's names are MLflow's where MLflow is installed.
USE_MLFLOW_NAMES = "from tinyserve import compat; compat.use_mlflow_names()\n"
VALIDATE_SCRIPT = USE_MLFLOW_NAMES + """
import json, sys
from typing import Any, Dict, List, Optional, Union
from mlflow.pyfunc.utils.data_validation import _validate_model_input
results = []
for hint_source, data in json.loads(sys.stdin.read()):
    try:
        args, _ = _validate_model_input((data,), {}, 0, eval(hint_source), "model_input")
        results.append({"value": args[0]})
    except Exception as error:
        results.append({"error": [type(error).__name__, error.error_code, error.message]})
print(json.dumps(results))
"""
# error code numbers as model code passes them -> the names MlflowException keeps
EXCEPTION_SCRIPT = USE_MLFLOW_NAMES + """
import json
from mlflow.exceptions import MlflowException
from mlflow.protos import databricks_pb2
cases = [None, databricks_pb2.RESOURCE_DOES_NOT_EXIST, databricks_pb2.INVALID_PARAMETER_VALUE,
         databricks_pb2.DATA_LOSS, "RESOURCE_DOES_NOT_EXIST", 99999, True]
out = []
for code in cases:
    error = MlflowException("m") if code is None else MlflowException("m", error_code=code)
    out.append([error.error_code, error.message, error.sqlstate, error.error_class,
                error.get_http_status_code()])
out.append(sorted(databricks_pb2.ErrorCode.items()))
print(json.dumps(out))
"""
PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import tinyserve, tinyserve.flavors, tinyserve.compat
seen = {"after_import": "mlflow" in sys.modules}
from tinyserve.flavors import load_model
load_model(sys.argv[2])
seen["after_sklearn"] = "mlflow" in sys.modules
load_model(sys.argv[3])
seen["mlflow_file"] = sys.modules["mlflow"].__file__
seen["mode"] = tinyserve.compat.use_mlflow_names()
print(json.dumps(seen))
"""


def run_python(python: str, script: str, *args: str, stdin: str = "") -> Any:
    result = subprocess.run([python, "-c", script, *args], input=stdin, capture_output=True,
                            text=True, env=child_env(), cwd=REPO, timeout=300)
    if result.returncode != 0:
        raise AssertionError(f"{python} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def stand_ins() -> None:
    """Install the stand-ins in this process, or skip where real MLflow would be used."""
    if compat.use_mlflow_names() != "stand-ins":
        raise unittest.SkipTest("real MLflow is importable here, so the stand-ins are unused")


class InstallationTest(unittest.TestCase):
    def test_importing_tinyserve_leaves_mlflow_alone_until_a_pyfunc_model_loads(self) -> None:
        seen = run_python(sys.executable, PROBE, REPO, fixture("sk_skops"),
                          fixture("pyfunc_echo"))
        self.assertFalse(seen["after_import"], "importing tinyserve imported mlflow")
        self.assertFalse(seen["after_sklearn"], "an sklearn model needs no MLflow names")
        if seen["mode"] == "stand-ins":
            self.assertTrue(seen["mlflow_file"].startswith(COMPAT_DIR), seen["mlflow_file"])

    @NEEDS_MLFLOW
    def test_real_mlflow_is_used_where_it_is_installed(self) -> None:
        seen = run_python(MLFLOW_PYTHON, PROBE, REPO, fixture("sk_skops"), fixture("pyfunc_echo"))
        self.assertEqual(seen["mode"], "mlflow")
        self.assertFalse(seen["mlflow_file"].startswith(COMPAT_DIR), seen["mlflow_file"])
        self.assertFalse(seen["after_import"])

    def test_a_directory_named_mlflow_does_not_count_as_mlflow(self) -> None:
        import tempfile

        script = ("import json, sys; sys.path[:0] = sys.argv[1:]\n"
                  "from tinyserve import compat\n"
                  "print(json.dumps(compat.real_mlflow_available()))")
        with tempfile.TemporaryDirectory() as work:
            os.mkdir(os.path.join(work, "mlflow"))  # a namespace package, not MLflow
            found = run_python(sys.executable, script, work, REPO)
        self.assertEqual(found, MLFLOW_IN_THIS_PYTHON)



class MlflowExceptionTest(unittest.TestCase):
    def setUp(self) -> None:
        stand_ins()

    def test_error_codes_are_kept_as_names_like_mlflow(self) -> None:
        from mlflow.exceptions import MlflowException
        from mlflow.protos import databricks_pb2 as pb

        table = [  # given error_code -> (error_code, sqlstate, error_class, HTTP status)
            (None, ("INTERNAL_ERROR", "XXM00", "CLIENT_INTERNAL_ERROR", 500)),
            (pb.RESOURCE_DOES_NOT_EXIST, ("RESOURCE_DOES_NOT_EXIST", "KAM00",
                                          "RESOURCE_NOT_FOUND", 404)),
            (pb.INVALID_PARAMETER_VALUE, ("INVALID_PARAMETER_VALUE", "KAM00",
                                          "INVALID_PARAMETER_VALUE", 400)),
            (pb.DATA_LOSS, ("DATA_LOSS", None, None, 500)),
            ("RESOURCE_DOES_NOT_EXIST", ("INTERNAL_ERROR", "XXM00", "CLIENT_INTERNAL_ERROR", 500)),
            (99999, ("INTERNAL_ERROR", "XXM00", "CLIENT_INTERNAL_ERROR", 500)),
        ]
        for code, expected in table:
            with self.subTest(code=code):
                error = (MlflowException("msg") if code is None
                         else MlflowException("msg", error_code=code))
                self.assertEqual((error.error_code, error.sqlstate, error.error_class,
                                  error.get_http_status_code()), expected)
                self.assertEqual((error.message, str(error)), ("msg", "msg"))

    def test_invalid_parameter_value_helper_sets_the_code(self) -> None:
        from mlflow.exceptions import MlflowException

        error = MlflowException.invalid_parameter_value("bad")
        self.assertEqual((error.error_code, error.message), ("INVALID_PARAMETER_VALUE", "bad"))

    @NEEDS_MLFLOW
    def test_exception_and_error_code_table_match_real_mlflow(self) -> None:
        self.assertEqual(run_python(sys.executable, EXCEPTION_SCRIPT),
                         run_python(MLFLOW_PYTHON, EXCEPTION_SCRIPT))


class TypeHintValidationTest(unittest.TestCase):
    def setUp(self) -> None:
        stand_ins()

    def validate(self, hint: Any, data: Any) -> Any:
        from mlflow.pyfunc.utils.data_validation import _validate_model_input

        return _validate_model_input((data,), {}, 0, hint, "model_input")[0][0]

    def test_messages_of_spec_4_10(self) -> None:
        from mlflow.exceptions import MlflowException

        table = [
            (list[str], ["a", 1], "Failed to validate data against type hint `list[str]`, "
                                  "invalid elements: [('1', 'Expected type str, but got int')]"),
            (list[str], "a", "Expected list, but got str"),
            (list[str], {"messages": []}, "Expected list, but got dict"),
        ]
        for hint, data, message in table:
            with self.subTest(data=data):
                with self.assertRaises(MlflowException) as caught:
                    self.validate(hint, data)
                self.assertEqual(caught.exception.error_code, "INVALID_PARAMETER_VALUE")
                self.assertEqual(caught.exception.message, message)

    def test_valid_data_passes_unchanged(self) -> None:
        table = [(list[str], ["a"]), (list[int], [1, 2]), (list[dict[str, Any]], [{"a": [1]}]),
                 (Optional[list[str]], None), (list[Union[int, str]], [1, "a"]),
                 (Dict[str, int], {"a": 1}), (List[str], ["x"])]
        for hint, data in table:
            with self.subTest(hint=hint):
                self.assertEqual(self.validate(hint, data), data)

    def test_a_dataframe_becomes_its_first_column_for_list_hints(self) -> None:
        import pandas as pd

        frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
        self.assertEqual(self.validate(list[int], frame), frame["a"].tolist())
        # as in MLflow, only bare dict / pydantic elements get records: dict[str, Any] does not
        from mlflow.exceptions import MlflowException

        with self.assertRaises(MlflowException):
            self.validate(list[dict[str, Any]], frame)

    @NEEDS_MLFLOW
    def test_the_validation_table_matches_real_mlflow(self) -> None:
        cases = json.dumps(HINT_CASES)
        ours = run_python(sys.executable, VALIDATE_SCRIPT, stdin=cases)
        theirs = run_python(MLFLOW_PYTHON, VALIDATE_SCRIPT, stdin=cases)
        for case, mine, real in zip(HINT_CASES, ours, theirs):
            with self.subTest(case=case):
                self.assertEqual(mine, real)


class PythonModelStandInTest(unittest.TestCase):
    def setUp(self) -> None:
        stand_ins()

    def test_a_type_hinted_subclass_validates_its_input(self) -> None:
        import mlflow
        from mlflow.exceptions import MlflowException

        class Upper(mlflow.pyfunc.PythonModel):
            def predict(self, model_input: list[str], params=None):
                return [text.upper() for text in model_input]

        model = Upper()
        self.assertEqual(model.predict(["a"]), ["A"])
        self.assertEqual(model.predict_type_hints.input, list[str])
        self.assertTrue(Upper.predict._is_pyfunc)
        with self.assertRaises(MlflowException):
            model.predict("a")

    def test_predict_without_hints_is_wrapped_but_not_validated(self) -> None:
        import mlflow

        class Echo(mlflow.pyfunc.PythonModel):
            def predict(self, context, model_input, params=None):
                return model_input

        self.assertEqual(Echo().predict(None, 5), 5)
        self.assertIsNone(Echo().predict_type_hints.input)

    def test_function_model_calls_the_function_and_drops_params(self) -> None:
        from mlflow.pyfunc.model import _FunctionPythonModel

        def count(model_input: list[str]) -> list[int]:
            return [len(text) for text in model_input]

        model = _FunctionPythonModel(count)
        self.assertEqual(model.predict(["ab"], params={"x": 1}), [2])
        self.assertEqual(model.predict_type_hints.input, list[str])

    def test_context_detection_follows_mlflow(self) -> None:
        from mlflow.models.signature import _is_context_in_predict_function_signature as rule

        table = [(lambda self, context, model_input, params=None: 0, True),
                 (lambda self, model_input, params=None: 0, False),
                 (lambda self, ctx, data: 0, True),
                 (lambda self, model_input: 0, False)]
        for func, expected in table:
            with self.subTest(expected=expected):
                self.assertIs(rule(func=func), expected)

    def test_model_config_reads_the_loading_config_then_the_development_one(self) -> None:
        from mlflow.models import ModelConfig
        from mlflow.models.model_config import _set_model_config

        self.assertEqual(ModelConfig(development_config={"k": 1}).get("k"), 1)
        _set_model_config({"k": 2})
        try:
            self.assertEqual(ModelConfig(development_config={"k": 1}).get("k"), 2)
            with self.assertRaises(KeyError):
                ModelConfig().get("missing")
        finally:
            _set_model_config(None)
        with self.assertRaises(FileNotFoundError):
            ModelConfig()

    def test_set_model_accepts_callables_and_refuses_strings(self) -> None:
        import mlflow.models.model as model_module
        from mlflow.exceptions import MlflowException

        model_module.set_model(len)
        self.assertIs(model_module.__mlflow_model__, len)
        model_module.__mlflow_model__ = None
        for bad in ("model.py", 42):
            with self.subTest(bad=bad), self.assertRaises(MlflowException):
                model_module.set_model(bad)

    def test_trace_decorator_is_a_no_op(self) -> None:
        import mlflow

        def f(x):
            return x

        self.assertIs(mlflow.trace(f), f)
        self.assertIs(mlflow.trace(name="span")(f), f)

    def test_every_provided_module_imports_from_tinyserve(self) -> None:
        import importlib

        for name in compat.PROVIDED_MODULES:
            with self.subTest(name=name):
                module = importlib.import_module(name)
                self.assertTrue(module.__file__.startswith(COMPAT_DIR), module.__file__)
                self.assertEqual(module.__name__, name)

    def test_names_outside_the_stand_ins_fail_to_import(self) -> None:
        with self.assertRaises(ModuleNotFoundError):
            __import__("mlflow.types.llm")


# Runs in any interpreter: "tinyserve" loads with tinyserve, "mlflow" with MLflow's own loader
# (minus schema enforcement, which tinyserve does elsewhere), "hide-mlflow" makes tinyserve use
# its stand-ins even though MLflow is installed (so pydantic models are covered too).
COMPARE_SCRIPT = r'''
import inspect, json, logging, sys, warnings
warnings.simplefilter("ignore"); logging.disable(logging.CRITICAL)
import numpy as np, pandas as pd
mode, fixtures = sys.argv[1], sys.argv[2]
if mode == "hide-mlflow":
    class Hide:
        def find_spec(self, name, path=None, target=None):
            if name == "mlflow":
                raise ModuleNotFoundError("hidden", name=name)
    sys.meta_path.insert(0, Hide())
AB = pd.DataFrame({"a": [0.0, 5.0, 2.5], "b": [1.0, 2.0, 0.5]})
X = pd.DataFrame({"x": [1.0, -2.0]})
CASES = [
    ("sk_skops", AB, None), ("sk_pickle", AB, None), ("sk_cloudpickle", AB, {"p": 1}),
    ("sk_proba", AB, None), ("sk_nosig", AB, None),
    ("pyfunc_echo", np.array([1, 2, 3]), None),
    ("pyfunc_echo", pd.DataFrame({"x": [1.5], "s": ["a"]}), {"k": 1}),
    ("pyfunc_legacy_predict", [1, "a"], {"dropped": True}),
    ("pyfunc_params", X, {"kind": "echo", "temperature": 2.0}),
    ("pyfunc_params", X, {"kind": "raise_mlflow"}),
    ("pyfunc_params", X, {"kind": "df_nan"}),
    ("pyfunc_typehint", ["a", "bbb"], None), ("pyfunc_typehint", ["a", 1], None),
    ("pyfunc_typehint", "a", None), ("pyfunc_typehint", [1, 2, 3, 4, 5, 6], None),
    ("pyfunc_typehint", pd.DataFrame({"n": [1], "t": ["xy"]}), None),
    ("pyfunc_typehint", pd.DataFrame({"n": [1]}), None),
    ("pyfunc_typehint_dict", [{"k": 1}, {"s": "x"}], None),
    ("pyfunc_typehint_dict", [3, {1: 2}], None),
    ("pyfunc_typehint_dict", pd.DataFrame({"k": [1], "s": ["x"]}), None),
    ("pyfunc_typehint_pydantic", [{"name": "bo", "age": 4}], None),
    ("pyfunc_typehint_pydantic", [{"age": "4"}, "x"], None),
    ("pyfunc_artifacts", pd.DataFrame({"x": [4.0, -2.0]}), {"multiplier": 2.0}),
    ("pyfunc_compressed", X, None), ("pyfunc_function", X, {"ignored": 1}),
    ("pyfunc_code_ref", X, None),
    ("code_model", pd.DataFrame({"text": ["ab", "abcd"]}), None),
    ("code_model_callable", pd.DataFrame({"text": ["ann"]}), None),
]
def jsonable(value):
    if isinstance(value, pd.DataFrame):
        return {"DataFrame": json.loads(value.to_json(orient="split"))}
    if isinstance(value, np.ndarray):
        return {"ndarray": value.tolist()}
    return value
def load(name):
    path = fixtures + "/" + name
    if mode != "mlflow":
        from tinyserve.flavors import load_model
        return load_model(path).predict
    import mlflow
    function = mlflow.pyfunc.load_model(path)._predict_fn
    declared = inspect.signature(function).parameters.get("params")
    if declared and declared.kind != inspect.Parameter.VAR_KEYWORD:
        return lambda data, params: function(data, params=params)
    return lambda data, params: function(data)
results, loaded = [], {}
for name, model_input, params in CASES:
    try:
        if name not in loaded:
            loaded[name] = load(name)
        results.append({"value": jsonable(loaded[name](model_input, params))})
    except Exception as error:
        results.append({"error": [getattr(error, "error_code", type(error).__name__),
                                  getattr(error, "message", str(error))]})
print(json.dumps({"cases": [case[0] for case in CASES], "results": results}, default=repr))
'''


SAVE_FUNCTION_MODEL = """
import sys, mlflow, numpy as np, pandas as pd
from mlflow.models import ModelSignature
from mlflow.types.schema import Array, ColSpec, ParamSchema, ParamSpec, Schema, TensorSpec
def add_one(model_input):
    return model_input + 1
signature = ModelSignature(
    inputs=Schema([ColSpec("double", "x"), ColSpec(Array("string"), "tags", required=False)]),
    outputs=Schema([TensorSpec(np.dtype("float32"), (-1, 2))]),
    params=ParamSchema([ParamSpec("k", "long", 1), ParamSpec("when", "datetime", "2024-01-02")]))
mlflow.pyfunc.save_model(sys.argv[1], python_model=add_one, signature=signature,
                         pip_requirements=["pandas"])
print("null")
"""


class MlflowPickledSignatureTest(unittest.TestCase):
    @NEEDS_MLFLOW
    def test_function_model_saved_with_an_explicit_signature_loads_with_stand_ins(self) -> None:
        import tempfile

        import pandas as pd

        from tinyserve.flavors import load_model

        stand_ins()
        with tempfile.TemporaryDirectory() as work:
            path = os.path.join(work, "model")
            run_python(MLFLOW_PYTHON, SAVE_FUNCTION_MODEL, path)
            loaded = load_model(path)  # the pickle holds MLflow's ModelSignature and schema
            frame = pd.DataFrame({"x": [1.0, 2.5]})
            pd.testing.assert_frame_equal(loaded.predict(frame, None), frame + 1)
            pickled = loaded.python_model.signature
            self.assertEqual([spec._name for spec in pickled.inputs.inputs], ["x", "tags"])
            self.assertEqual(pickled.params.params[1]._dtype.name, "datetime")


@NEEDS_MLFLOW
class RealMlflowComparisonTest(unittest.TestCase):
    """Each loader answers what MLflow's own loader answers, with stand-ins or real names."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.real = cls.run_cases(MLFLOW_PYTHON, "mlflow")

    @staticmethod
    def run_cases(python: str, mode: str) -> Any:
        return run_python(python, COMPARE_SCRIPT, mode, FIXTURES)

    def assert_same_as_mlflow(self, ours: Any, skip: tuple = ()) -> None:
        for index, name in enumerate(self.real["cases"]):
            if name in skip:
                continue
            with self.subTest(case=index, model=name):
                self.assertEqual(ours["results"][index], self.real["results"][index])

    def test_stand_ins_in_this_interpreter_predict_like_mlflow(self) -> None:
        # without pydantic that fixture cannot load (test_loaders checks the message)
        skip = () if importlib.util.find_spec("pydantic") else ("pyfunc_typehint_pydantic",)
        self.assert_same_as_mlflow(self.run_cases(sys.executable, "tinyserve"), skip)

    def test_real_mlflow_names_predict_like_mlflow(self) -> None:
        self.assert_same_as_mlflow(self.run_cases(MLFLOW_PYTHON, "tinyserve"))

    def test_stand_ins_next_to_pydantic_predict_like_mlflow(self) -> None:
        self.assert_same_as_mlflow(self.run_cases(MLFLOW_PYTHON, "hide-mlflow"))


if __name__ == "__main__":
    unittest.main()
