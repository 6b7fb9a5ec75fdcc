"""Loading the committed MLflow-saved fixtures without MLflow, and predicting like MLflow.

Expectations are computed from the inputs (or from the estimator read back independently);
the comparisons with real MLflow run the same cases in TINYSERVE_MLFLOW_PYTHON and are skipped,
with the reason shown, when it is unset. Broken models are fixture copies with an edited
MLmodel in a temporary directory.

Long because every committed fixture is loaded here, each with its own expectations.
"""
from __future__ import annotations

import importlib.util
import json
import os
import pickle
import shutil
import sys
import tempfile
import unittest
from typing import Any, Callable, Optional
from unittest import mock

import numpy as np
import pandas as pd
import yaml

from tests.support import fixture
from tests.test_compat import MLFLOW_IN_THIS_PYTHON, run_python
from tinyserve.errors import ModelLoadError
from tinyserve.flavors import load_model

AB = pd.DataFrame({"a": [0.0, 5.0, 2.5, -1.0], "b": [1.0, 2.0, 0.5, 3.0]})


def describe(x: Any) -> Any:
    """What the fixtures' echo models answer: a description of exactly what they received."""
    if isinstance(x, pd.DataFrame):
        columns = [x.iloc[:, j].tolist() for j in range(x.shape[1])]
        return {"type": "DataFrame", "columns": [repr(c) for c in x.columns],
                "dtypes": [str(d) for d in x.dtypes], "index": [repr(i) for i in x.index],
                "rows": [[repr(v) for v in row] for row in zip(*columns)]}
    if isinstance(x, np.ndarray):
        return {"type": "ndarray", "dtype": str(x.dtype), "shape": list(x.shape),
                "values": repr(x.tolist())}
    if isinstance(x, dict):
        return {"type": "dict", "items": {str(k): describe(v) for k, v in x.items()}}
    if isinstance(x, list):
        return {"type": "list", "items": [describe(v) for v in x]}
    return {"type": type(x).__name__, "repr": repr(x)}


def read_yaml(path: str) -> Any:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


class TempModels(unittest.TestCase):
    """Copies of fixtures, edited, in a temporary directory removed after each test."""

    def copy_model(self, name: str, edit: Optional[Callable[[dict], None]] = None) -> str:
        if not hasattr(self, "_work"):
            self._work = tempfile.mkdtemp(prefix="tinyserve-loaders-")
            self.addCleanup(shutil.rmtree, self._work, True)
        target = os.path.join(self._work, f"{name}-{len(os.listdir(self._work))}")
        shutil.copytree(fixture(name), target)
        if edit is not None:
            mlmodel = os.path.join(target, "MLmodel")
            data = read_yaml(mlmodel)
            edit(data)
            with open(mlmodel, "w", encoding="utf-8") as handle:
                yaml.safe_dump(data, handle, default_flow_style=False)
        return target

    def code_model(self, source: str, config: Any = None) -> str:
        """A models-from-code model running ``source`` (``config`` None: saved without one)."""
        def edit(data: dict) -> None:
            flavor = data["flavors"]["python_function"]
            flavor.pop("config")
            if config is not None:
                flavor["config"] = config
        path = self.copy_model("code_model", edit)
        with open(os.path.join(path, "model_code.py"), "w", encoding="utf-8") as handle:
            handle.write(source)
        return path

    def assert_load_error(self, path: str, *fragments: str) -> str:
        with self.assertRaises(ModelLoadError) as caught:
            load_model(path)
        message = str(caught.exception)
        self.assertNotIn("\n", message)
        for fragment in fragments:
            self.assertIn(fragment, message)
        return message


class SklearnLoaderTest(TempModels):
    def reference_estimator(self, name: str) -> Any:
        """The estimator read back by hand, the way its serialization format is read."""
        flavor = read_yaml(os.path.join(fixture(name), "MLmodel"))["flavors"]["sklearn"]
        path = os.path.join(fixture(name), flavor["pickled_model"])
        if flavor["serialization_format"] == "skops":
            import skops.io

            return skops.io.load(path, trusted=flavor["skops_trusted_types"])
        with open(path, "rb") as handle:
            return pickle.load(handle)

    def test_every_serialization_format_predicts_like_the_estimator(self) -> None:
        for name in ("sk_skops", "sk_pickle", "sk_cloudpickle", "sk_nosig"):
            with self.subTest(name=name):
                loaded = load_model(fixture(name))
                expected = self.reference_estimator(name).predict(AB)
                np.testing.assert_array_equal(loaded.predict(AB, None), expected)
                self.assertEqual(type(loaded.python_model).__name__, "LogisticRegression")

    def test_predict_fn_predict_proba_answers_probabilities(self) -> None:
        loaded = load_model(fixture("sk_proba"))
        expected = self.reference_estimator("sk_proba").predict_proba(AB)
        np.testing.assert_allclose(loaded.predict(AB, None), expected)

    def test_params_never_reach_the_estimator(self) -> None:
        for name in ("sk_skops", "sk_proba"):
            with self.subTest(name=name):
                loaded = load_model(fixture(name))
                np.testing.assert_array_equal(loaded.predict(AB, {"x": 1}),
                                              loaded.predict(AB, None))

    def test_a_model_without_the_sklearn_flavor_is_read_as_a_pickle(self) -> None:
        path = self.copy_model("sk_pickle", lambda data: data["flavors"].pop("sklearn"))
        expected = self.reference_estimator("sk_pickle").predict(AB)
        np.testing.assert_array_equal(load_model(path).predict(AB, None), expected)

    def test_a_predict_fn_the_wrapper_lacks_is_a_load_error(self) -> None:
        def edit(data: dict) -> None:
            data["flavors"]["python_function"]["predict_fn"] = "decision_function"
        self.assert_load_error(self.copy_model("sk_skops", edit),
                               "Model implementation is missing required decision_function method.")

    def test_an_unknown_serialization_format_is_a_load_error(self) -> None:
        def edit(data: dict) -> None:
            data["flavors"]["sklearn"]["serialization_format"] = "joblib"
        self.assert_load_error(self.copy_model("sk_pickle", edit),
                               "Unrecognized serialization format: joblib.")


class PythonModelLoaderTest(TempModels):
    def test_echo_model_receives_input_and_params_unchanged(self) -> None:
        loaded = load_model(fixture("pyfunc_echo"))
        table = [(np.array([1, 2, 3]), None), (pd.DataFrame({"x": [1.5], "s": ["a"]}), {"k": 1}),
                 ({"a": np.array([1.0])}, {})]
        for model_input, params in table:
            with self.subTest(model_input=model_input):
                described = None if params is None else {k: repr(v) for k, v in params.items()}
                self.assertEqual(loaded.predict(model_input, params),
                                 {"input": describe(model_input), "params": described})

    def test_legacy_predict_gets_the_context_positionally_and_no_params(self) -> None:
        loaded = load_model(fixture("pyfunc_legacy_predict"))
        with self.assertLogs("tinyserve", "WARNING") as logs:
            prediction = loaded.predict([1], {"p": 2})
        self.assertEqual(prediction, {"input": describe([1]), "params": None})
        self.assertIn("`params` {'p': 2} will be ignored", "\n".join(logs.output))

    def test_params_reach_a_model_that_declares_them(self) -> None:
        params = {"kind": "echo", "temperature": 2.0, "ids": [1, 2]}
        loaded = load_model(fixture("pyfunc_params"))
        prediction = loaded.predict(pd.DataFrame({"x": [1.0]}), params)
        self.assertEqual(prediction["params"], {k: repr(v) for k, v in params.items()})

    def test_an_mlflow_exception_from_the_model_keeps_its_code(self) -> None:
        loaded = load_model(fixture("pyfunc_params"))
        with self.assertRaises(Exception) as caught:
            loaded.predict(pd.DataFrame({"x": [1.0]}), {"kind": "raise_mlflow"})
        self.assertEqual(type(caught.exception).__name__, "MlflowException")
        self.assertEqual(caught.exception.error_code, "RESOURCE_DOES_NOT_EXIST")
        self.assertEqual(caught.exception.message, str(caught.exception))

    def test_list_of_str_hint_validates_and_takes_a_dataframes_first_string_column(self) -> None:
        loaded = load_model(fixture("pyfunc_typehint"))
        texts = ["a", "bbb", ""]
        self.assertEqual(loaded.predict(texts, None), [len(t) for t in texts])
        frame = pd.DataFrame({"n": [1, 2], "t": ["xy", "z"]})
        self.assertEqual(loaded.predict(frame, None), [len(t) for t in frame["t"]])
        table = [(["a", 1], "Failed to validate data against type hint `list[str]`, invalid "
                            "elements: [('1', 'Expected type str, but got int')]"),
                 ("a", "Expected list, but got str"),
                 (pd.DataFrame({"n": [1]}), "Expected model input to contain at least one "
                                            "string column")]
        for model_input, message in table:
            with self.subTest(model_input=model_input):
                with self.assertRaises(Exception) as caught:
                    loaded.predict(model_input, None)
                self.assertEqual((caught.exception.error_code, caught.exception.message),
                                 ("INVALID_PARAMETER_VALUE", message))

    def test_list_of_dict_hint_receives_the_records(self) -> None:
        records = [{"k": 1, "s": "x"}, {"k": 2}]
        prediction = load_model(fixture("pyfunc_typehint_dict")).predict(records, None)
        self.assertEqual(json.loads(prediction[0]), {"input": describe(records), "params": None})

    def test_pydantic_hint_needs_pydantic(self) -> None:
        if importlib.util.find_spec("pydantic") is None:
            self.assert_load_error(fixture("pyfunc_typehint_pydantic"), "'pydantic'",
                                   "pip install pydantic")
            return
        loaded = load_model(fixture("pyfunc_typehint_pydantic"))
        self.assertEqual(loaded.predict([{"name": "bo", "age": 4}], None), ["Person:bo:4"])

    def artifacts_expectation(self, path: str, frame: pd.DataFrame, multiplier: float,
                              config: dict) -> pd.DataFrame:
        flavor = read_yaml(os.path.join(path, "MLmodel"))["flavors"]["python_function"]
        lookup = os.path.join(path, flavor["artifacts"]["lookup"]["path"])
        with open(lookup, encoding="utf-8") as handle:
            scale = json.load(handle)["scale"]
        scores = [x * scale * multiplier for x in frame["x"]]
        labels = [config["prefix"] + ("high" if s >= config["threshold"] else "low")
                  for s in scores]
        return pd.DataFrame({"score": scores, "label": labels})

    def test_artifacts_code_paths_and_config_reach_the_model(self) -> None:
        path = fixture("pyfunc_artifacts")
        loaded = load_model(path)
        config = read_yaml(os.path.join(path, "MLmodel"))["flavors"]["python_function"]["config"]
        frame = pd.DataFrame({"x": [4.0, -2.0, 1.0]})
        pd.testing.assert_frame_equal(loaded.predict(frame, {"multiplier": 2.0}),
                                      self.artifacts_expectation(path, frame, 2.0, config))
        context = loaded.model_impl.context
        self.assertEqual(context.model_config, config)
        self.assertTrue(all(os.path.isabs(p) and os.path.isfile(p)
                            for p in context.artifacts.values()))
        self.assertEqual(sys.path[0], os.path.join(path, "code"))

    def test_config_overrides_from_the_environment_apply_to_known_keys_only(self) -> None:
        path = fixture("pyfunc_artifacts")
        table = [
            ({"SERVING_MODEL_CONFIG": '{"prefix": "env-", "unknown": 1}'},
             {"prefix": "env-", "threshold": 0.5}),
            ({"MLFLOW_PYFUNC_INFERENCE_CONFIG": '{"threshold": 9, "prefix": "inf-"}',
              "SERVING_MODEL_CONFIG": '{"prefix": "srv-"}'}, {"prefix": "srv-", "threshold": 9}),
        ]
        frame = pd.DataFrame({"x": [4.0]})
        for env, config in table:
            with self.subTest(env=env), mock.patch.dict(os.environ, env):
                loaded = load_model(path)
                self.assertEqual(loaded.model_impl.context.model_config, config)
                pd.testing.assert_frame_equal(loaded.predict(frame, None),
                                              self.artifacts_expectation(path, frame, 1.0, config))

    def test_compressed_pickle_and_function_model_and_code_path_class(self) -> None:
        frame = pd.DataFrame({"x": [1.0, 2.5]})
        compressed, function = load_model(fixture("pyfunc_compressed")), load_model(
            fixture("pyfunc_function"))
        pd.testing.assert_frame_equal(compressed.predict(frame, None), frame * 2)
        pd.testing.assert_frame_equal(function.predict(frame, {"p": 1}), frame + 1)
        self.assertEqual(load_model(fixture("pyfunc_code_ref")).predict(frame, None),
                         {"class": "ref_models.CodeRefModel", "rows": len(frame)})


class ModelsFromCodeTest(TempModels):
    def test_fixtures_use_the_saved_config(self) -> None:
        config = read_yaml(os.path.join(fixture("code_model"), "MLmodel"))
        factor = config["flavors"]["python_function"]["config"]["factor"]
        frame = pd.DataFrame({"text": ["ab", "abcd"]})
        self.assertEqual(load_model(fixture("code_model")).predict(frame, None),
                         [len(t) * factor for t in frame["text"]])
        with mock.patch.dict(os.environ, {"SERVING_MODEL_CONFIG": '{"greeting": "hi"}'}):
            loaded = load_model(fixture("code_model_callable"))
        self.assertEqual(loaded.predict(pd.DataFrame({"text": ["ann"]}), None), ["hi ann"])

    def test_every_load_runs_the_file_again(self) -> None:
        first, second = (load_model(fixture("code_model")) for _ in range(2))
        self.assertIsNot(type(first.python_model), type(second.python_model))

    def test_the_predict_signature_decides_context_and_params(self) -> None:
        head = ("import mlflow\nclass M(mlflow.pyfunc.PythonModel):\n"
                "    def load_context(self, context):\n"
                "        self.loads = getattr(self, 'loads', 0) + 1\n")
        table = [  # predict definition -> (context given?, params given?)
            ("def predict(self, context, model_input, params=None):\n"
             "        return [context is not None, params, model_input]", (True, {"p": 1})),
            ("def predict(self, model_input, params=None):\n"
             "        return [False, params, model_input]", (False, {"p": 1})),
            ("def predict(self, ctx, data):\n        return [ctx is not None, None, data]",
             (True, None)),
            ("def predict(self, model_input):\n        return [False, None, model_input]",
             (False, None)),
        ]
        for definition, (context_given, params_given) in table:
            with self.subTest(definition=definition.splitlines()[0]):
                source = head + "    " + definition + "\nmlflow.models.set_model(M())\n"
                loaded = load_model(self.code_model(source, {"k": 1}))
                self.assertEqual(loaded.predict(["x"], {"p": 1}),
                                 [context_given, params_given, ["x"]])
                self.assertEqual(loaded.python_model.loads, 1)

    def test_model_config_is_none_without_a_saved_config(self) -> None:
        source = ("import mlflow\nclass M(mlflow.pyfunc.PythonModel):\n"
                  "    def predict(self, context, model_input):\n"
                  "        return context.model_config\nmlflow.models.set_model(M())\n")
        self.assertIsNone(load_model(self.code_model(source)).predict([1], None))

    def test_a_type_hinted_class_in_model_code_validates_input(self) -> None:
        source = ("import mlflow\nclass M(mlflow.pyfunc.PythonModel):\n"
                  "    def predict(self, model_input: list[int]) -> list[int]:\n"
                  "        return [v + 1 for v in model_input]\nmlflow.models.set_model(M())\n")
        loaded = load_model(self.code_model(source))
        self.assertEqual(loaded.predict([1, 2], None), [2, 3])
        with self.assertRaises(Exception) as caught:
            loaded.predict(["a"], None)
        self.assertEqual(caught.exception.error_code, "INVALID_PARAMETER_VALUE")

    def test_broken_model_code_gives_mlflows_messages_on_one_line(self) -> None:
        table = [
            ("x = 1\n", "If the model is logged as code, ensure the model is set using "
                        "mlflow.models.set_model() within the code file code file."),
            ("raise ValueError('bad\\nthing')\n", "Failed to run user code from", "bad thing",
             "Review the stack trace for more information."),
            ("import no_such_module_here\n", "Failed to import code model from",
             "No module named 'no_such_module_here'", "pip install no_such_module_here"),
            ("from mlflow.models import ModelConfig\nModelConfig().get('k')\n",
             "Failed to run user code from", "Config file is not provided"),
            ("import mlflow.langchain\n", "Failed to import code model from",
             "install MLflow next to tinyserve"),
        ]
        for source, *fragments in table:
            if "langchain" in source and MLFLOW_IN_THIS_PYTHON:
                continue  # real MLflow may well provide it
            with self.subTest(source=source):
                self.assert_load_error(self.code_model(source), *fragments)


class LoadFailureTest(TempModels):
    def test_models_tinyserve_cannot_serve_are_named_in_one_line(self) -> None:
        def drop_pyfunc(data: dict) -> None:
            data["flavors"].pop("python_function")

        def loader(module: str) -> Callable[[dict], None]:
            return lambda data: data["flavors"]["python_function"].update(loader_module=module)

        table = [(drop_pyfunc, 'Model does not have the "python_function" flavor (its flavors: '
                               'sklearn)'),
                 (loader("mlflow.xgboost"), "Model flavor 'mlflow.xgboost'"),
                 (loader("mlflow.pytorch"), "Model flavor 'mlflow.pytorch'")]
        for edit, fragment in table:
            with self.subTest(fragment=fragment):
                self.assert_load_error(self.copy_model("sk_skops", edit), fragment,
                                       "scikit-learn models", "custom pyfunc models",
                                       "models from code")

    def test_pickle_switch_refuses_pickled_and_skops_models_but_not_model_code(self) -> None:
        table = [("sk_skops", "Deserializing this model is disallowed because "
                              "'MLFLOW_ALLOW_PICKLE_DESERIALIZATION' is not set to 'true'."),
                 ("sk_pickle", "including models saved in the 'skops' format"),
                 ("pyfunc_echo", "Deserializing model using pickle is disallowed, but this "
                                 "model is saved in cloudpickle format.")]
        with mock.patch.dict(os.environ, {"MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "False"}):
            for name, fragment in table:
                with self.subTest(name=name):
                    self.assert_load_error(fixture(name), fragment)
            self.assertIsNotNone(load_model(fixture("code_model")))
        with mock.patch.dict(os.environ, {"MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "nope"}):
            self.assert_load_error(fixture("sk_pickle"), "must be one of ['true', 'false', '1', "
                                                         "'0'] (case-insensitive), but got nope")

    def test_a_pickle_needing_a_missing_package_names_the_package_and_its_pin(self) -> None:
        path = self.copy_model("sk_pickle")
        with open(os.path.join(path, "model.pkl"), "wb") as handle:
            handle.write(b"cxgboost.sklearn\nXGBClassifier\n.")  # protocol-0 GLOBAL opcode
        with open(os.path.join(path, "requirements.txt"), "a", encoding="utf-8") as handle:
            handle.write("\nxgboost==2.1.0\n")
        self.assert_load_error(path, "needs the package 'xgboost',",
                               "pip install 'xgboost==2.1.0'")

    def test_missing_files_and_invalid_config_json_are_load_errors(self) -> None:
        path = self.copy_model("pyfunc_echo")
        os.remove(os.path.join(path, "python_model.pkl"))
        self.assert_load_error(path, "file not found")
        with mock.patch.dict(os.environ, {"SERVING_MODEL_CONFIG": "{not json"}):
            self.assert_load_error(fixture("code_model"), "SERVING_MODEL_CONFIG")

    def test_an_external_model_is_refused(self) -> None:
        path = self.copy_model("sk_skops", lambda data: data.update(
            metadata={"mlflow.model.isExternal": True}))
        self.assert_load_error(path, "This model cannot be loaded with MLflow.")

    def test_missing_scikit_learn_or_skops_is_named(self) -> None:
        script = ("import sys; sys.modules[sys.argv[1]] = None\n"
                  "from tinyserve.errors import ModelLoadError\n"
                  "from tinyserve.flavors import load_model\n"
                  "try:\n    load_model(sys.argv[2])\nexcept ModelLoadError as e:\n"
                  "    import json; print(json.dumps(str(e)))\n")
        table = [("sklearn", "sk_pickle", "pip install 'scikit-learn==1.9.1'"),
                 ("sklearn", "sk_skops", "the package 'scikit-learn' (module 'sklearn')"),
                 ("skops", "sk_skops", "pip install 'tinyserve[sklearn]'")]
        for blocked, name, fragment in table:
            with self.subTest(blocked=blocked, name=name):
                message = run_python(sys.executable, script, blocked, fixture(name))
                self.assertIn(fragment, message)
                self.assertNotIn("\n", message)

    def test_an_sklearn_pickle_naming_mlflow_gets_mlflow_names(self) -> None:
        path = self.copy_model("sk_pickle")
        with open(os.path.join(path, "model.pkl"), "wb") as handle:
            handle.write(b"cmlflow.exceptions\nMlflowException\n.")
        loaded_class = load_model(path).python_model
        self.assertEqual((loaded_class.__module__, loaded_class.__name__),
                         ("mlflow.exceptions", "MlflowException"))

    def test_a_pickle_needing_mlflow_names_the_stand_ins_lack_says_so(self) -> None:
        from tinyserve import compat

        if compat.use_mlflow_names() != "stand-ins":
            self.skipTest("real MLflow is importable here: it provides every MLflow name")
        path = self.copy_model("pyfunc_echo")
        with open(os.path.join(path, "python_model.pkl"), "wb") as handle:
            handle.write(b"cmlflow.types.llm\nChatMessage\n.")
        self.assert_load_error(path, "uses MLflow's 'mlflow.types.llm'", "pip install mlflow")


if __name__ == "__main__":
    unittest.main()
