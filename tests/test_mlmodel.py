"""Tests for tinyserve.mlmodel: the YAML-subset reader agrees with PyYAML, refuses the rest by line.

Long because it compares with PyYAML over every construct MLflow writes, and every refusal.
"""
from __future__ import annotations

import datetime
import math
import os
import random
import tempfile
import unittest

from tinyserve.errors import ModelLoadError
from tinyserve.mlmodel import MLmodelSyntaxError, parse_yaml, read_mlmodel

try:
    import yaml
except ImportError:  # PyYAML is a test-only dependency
    yaml = None

NEEDS_PYYAML = unittest.skipIf(yaml is None, "PyYAML not installed: cannot compare with yaml.safe_load")

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def same(left, right) -> bool:
    """Deep equality where NaN equals NaN and bool/int/float types must match."""
    if type(left) is not type(right):
        return False
    if isinstance(left, float) and math.isnan(left):
        return math.isnan(right)
    if isinstance(left, dict):
        return list(left) == list(right) and all(same(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right))
    return left == right


# The three MLmodel files of spec 12.4, verbatim.
SKLEARN_MLMODEL = """\
flavors:
  python_function:
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: model.pkl
    predict_fn: predict
    python_version: 3.11.7
  sklearn:
    code: null
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 1.9.1
    skops_trusted_types: null
is_signature_from_type_hint: false
mlflow_version: 3.17.2
model_id: null
model_size_bytes: 1050
model_uuid: c882809318b04a7ebecb77288ede6b7c
prompts: null
saved_input_example_info:
  artifact_path: input_example.json
  pandas_orient: split
  serving_input_path: serving_input_example.json
  type: dataframe
signature:
  inputs: '[{"type": "double", "name": "a", "required": true}, {"type": "double",
    "name": "b", "required": true}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]'
  params: null
type_hint_from_example: false
utc_time_created: '2026-11-24 15:42:41.868350'
"""

CUSTOM_PYFUNC_MLMODEL = """\
flavors:
  python_function:
    artifacts:
      lookup:
        path: artifacts/lookup.json
        uri: lookup.json
    cloudpickle_version: 3.1.3
    code: code
    config:
      prefix: cfg-
      threshold: 0.5
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.pyfunc.model
    python_model: python_model.pkl
    python_version: 3.11.7
    streamable: false
is_signature_from_type_hint: false
metadata:
  owner: spec-team
mlflow_version: 3.17.2
model_id: null
model_size_bytes: 3669
model_uuid: 0802d212117846dfa56e5ddc96fd29e8
prompts: null
saved_input_example_info:
  artifact_path: input_example.json
  pandas_orient: split
  params: 'true'
  serving_input_path: serving_input_example.json
  type: dataframe
signature:
  inputs: '[{"type": "double", "name": "x", "required": true}, {"type": "string",
    "name": "note", "required": false}]'
  outputs: '[{"type": "double", "name": "score", "required": true}, {"type": "string",
    "name": "label", "required": true}]'
  params: '[{"name": "multiplier", "default": 1.0, "shape": null, "type": "double"},
    {"name": "tag", "default": "none", "shape": null, "type": "string"}, {"name":
    "top_k", "default": 3, "shape": null, "type": "long"}, {"name": "verbose", "default":
    false, "shape": null, "type": "boolean"}, {"name": "ids", "default": [1, 2], "shape":
    [-1], "type": "long"}, {"name": "as_of", "default": "2024-01-02", "shape": null,
    "type": "datetime"}]'
type_hint_from_example: false
utc_time_created: '2026-11-24 15:58:10.391314'
"""

CODE_MODEL_MLMODEL = """\
flavors:
  python_function:
    cloudpickle_version: 3.1.3
    code: null
    config:
      factor: 3
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.pyfunc.loaders.code_model
    model_code_path: /home/alice/project/model_code.py
    python_version: 3.11.7
    streamable: false
is_signature_from_type_hint: false
mlflow_version: 3.17.2
model_id: null
model_size_bytes: 403
model_uuid: 4f58511445ba40f0925f4f13fa812e88
prompts: null
signature:
  inputs: '[{"type": "string", "name": "text", "required": true}]'
  outputs: '[{"type": "long", "required": true}]'
  params: null
type_hint_from_example: false
utc_time_created: '2026-11-24 15:58:35.511273'
"""

VERBATIM_FILES = {
    "sklearn": SKLEARN_MLMODEL,
    "custom_pyfunc": CUSTOM_PYFUNC_MLMODEL,
    "code_model": CODE_MODEL_MLMODEL,
}


class VerbatimMLmodelTest(unittest.TestCase):
    @NEEDS_PYYAML
    def test_spec_files_parse_equal_to_pyyaml(self):
        for name, text in VERBATIM_FILES.items():
            with self.subTest(name):
                self.assertTrue(same(parse_yaml(text), yaml.safe_load(text)))

    def test_folded_signature_string_is_exact_json(self):
        data = parse_yaml(SKLEARN_MLMODEL)
        self.assertEqual(
            data["signature"]["inputs"],
            '[{"type": "double", "name": "a", "required": true}, '
            '{"type": "double", "name": "b", "required": true}]',
        )

    def test_scalars_resolve_like_yaml_1_1(self):
        data = parse_yaml(CUSTOM_PYFUNC_MLMODEL)
        self.assertEqual(data["flavors"]["python_function"]["python_version"], "3.11.7")
        self.assertEqual(data["flavors"]["python_function"]["config"]["threshold"], 0.5)
        self.assertIs(data["is_signature_from_type_hint"], False)
        self.assertIsNone(data["model_id"])
        self.assertEqual(data["model_size_bytes"], 3669)
        self.assertEqual(data["saved_input_example_info"]["params"], "true")


# --- hand-written constructs (expected values written out, so no PyYAML needed) -------------

CONSTRUCT_CASES = [
    ("empty document", "", None),
    ("comment only", "# nothing\n", None),
    ("document markers", "---\na: 1\n...\n", {"a": 1}),
    ("empty flow collections", "a: {}\nb: []\n", {"a": {}, "b": []}),
    ("indentless sequence", "deps:\n- python=3.11.7\n- pip\nx: 1\n", {"deps": ["python=3.11.7", "pip"], "x": 1}),
    ("sequence of mappings", "- a: 1\n  b:\n  - 1\n- c\n", [{"a": 1, "b": [1]}, "c"]),
    ("nested compact sequence", "- - 1\n  - 2\n- []\n", [[1, 2], []]),
    ("nulls", "a: null\nb: ~\nc:\nd: Null\n", {"a": None, "b": None, "c": None, "d": None}),
    ("booleans", "a: yes\nb: Off\nc: TRUE\nd: n\n", {"a": True, "b": False, "c": True, "d": "n"}),
    ("integers", "a: -12\nb: +3\nc: 0x1F\nd: 010\ne: 1_000\nf: 1:30\n",
     {"a": -12, "b": 3, "c": 31, "d": 8, "e": 1000, "f": 90}),
    ("floats", "a: 1.0e-05\nb: .inf\nc: -.inf\nd: 1.\ne: .5\nf: 1e5\n",
     {"a": 1e-05, "b": float("inf"), "c": float("-inf"), "d": 1.0, "e": 0.5, "f": "1e5"}),
    ("strings that are not numbers", "a: 3.11.7\nb: cfg-\nc: 1.9.1\n", {"a": "3.11.7", "b": "cfg-", "c": "1.9.1"}),
    ("single quoted", "a: 'it''s'\nb: ''\nc: 'x\\y'\n", {"a": "it's", "b": "", "c": "x\\y"}),
    ("single quoted folded", "a: 'one two\n  three\n\n  four'\n", {"a": "one two three\nfour"}),
    ("double quoted escapes", 'a: "caf\\xE9\\t\\n\\u263A\\U0001F600\\/\\\\\\""\n',
     {"a": "caf\u00e9\t\n\u263a\U0001f600/\\\""}),
    ("double quoted folded", 'a: "caf\\xE9 caf\\\n  \\ x y\n  z"\n', {"a": "caf\u00e9 caf x y z"}),
    ("plain multi-line", "m:\n  d: word word\n    more words\n\n    last\n", {"m": {"d": "word word more words\nlast"}}),
    ("quoted keys", "'a: b': 1\n\"caf\\xE9\": 2\n", {"a: b": 1, "caf\u00e9": 2}),
    ("comments", "# head\na: 1 # trailing\nb: 'x # y' # c\n  # indented comment\nc: d#e\n",
     {"a": 1, "b": "x # y", "c": "d#e"}),
    ("non-string keys", "1: a\ntrue: b\nnull: c\n", {1: "a", True: "b", None: "c"}),
    ("date and datetime", "d: 2024-01-02\nt: 2024-01-02 03:04:05.5\nz: 2024-01-02T03:04:05Z\n",
     {"d": datetime.date(2024, 1, 2), "t": datetime.datetime(2024, 1, 2, 3, 4, 5, 500000),
      "z": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)}),
    ("windows line endings", "a: 1\r\nb:\r\n- x\r\n", {"a": 1, "b": ["x"]}),
    ("value on the next line", "a:\n  hello\n", {"a": "hello"}),
    ("top-level scalar", "hello\n", "hello"),
    ("explicit keys", "? ''\n: 1\n? long\n: - a\n", {"": 1, "long": ["a"]}),
    ("explicit key without value", "? k\nx: 2\n", {"k": None, "x": 2}),
]


class ConstructTest(unittest.TestCase):
    def test_each_construct_gives_the_expected_value(self):
        for name, text, expected in CONSTRUCT_CASES:
            with self.subTest(name):
                self.assertTrue(same(parse_yaml(text), expected), parse_yaml(text))

    @NEEDS_PYYAML
    def test_each_construct_agrees_with_pyyaml(self):
        for name, text, _ in CONSTRUCT_CASES:
            with self.subTest(name):
                self.assertTrue(same(parse_yaml(text), yaml.safe_load(text)))

    def test_nan_is_a_float_nan(self):
        self.assertTrue(math.isnan(parse_yaml("a: .nan\n")["a"]))


# --- generated documents compared with PyYAML -----------------------------------------------

STRING_PIECES = [
    "word", "a b", "x: y", "p #q", "#", "'", '"', "''", "\\", "caf\u00e9", "\u263a", "\U0001f600",
    "true", "no", "null", "~", "1.0", "12", "0x1F", "1e5", ".inf", "2024-01-02", "2024-01-02 03:04:05",
    "", " ", "  ", "-", "- x", "? q", "[a]", "{b}", "*ref", "&a", "!tag", "%", "@", "`", "|", ">",
    "\n", "\n\n", "\t", "\x07", ",", "a,b", "3.11.7", "cfg-", "=", "<<", "line\nbreak", "\u00a0",
]


def random_string(rng: random.Random, long: bool = False) -> str:
    pieces = rng.randint(20, 60) if long else rng.randint(0, 5)
    separators = [" ", " ", " ", "", "  ", ", "]
    return "".join(rng.choice(STRING_PIECES) + rng.choice(separators) for _ in range(pieces))


def random_key(rng: random.Random) -> str:
    key = random_string(rng)[:40].replace("\n", " ")
    return key if rng.random() < 0.5 else rng.choice(["a", "b_c", "model-path", "x1", "Key"]) + key[:3]


def random_scalar(rng: random.Random):
    choice = rng.randrange(10)
    if choice == 0:
        return rng.choice([None, True, False])
    if choice == 1:
        return rng.choice([0, -1, 7, 2 ** 70, -(2 ** 40)])
    if choice == 2:
        return rng.choice([0.5, -1.25e-05, 1e300, float("inf"), float("-inf"), float("nan"), 3.0])
    if choice == 3:
        return rng.choice([datetime.date(2024, 1, 2), datetime.datetime(2024, 1, 2, 3, 4, 5, 6)])
    if choice == 9:  # long plain text: PyYAML folds it as a multi-line plain scalar
        return " ".join(rng.choice(["word", "alpha-beta", "3.11.7", "x", "end.", "caf\u00e9"])
                        for _ in range(rng.randint(5, 40)))
    return random_string(rng, long=choice == 8)


def random_value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(6) if depth < 4 else 5
    if kind <= 1:
        return {random_key(rng): random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))}
    if kind == 2:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return random_scalar(rng)


class GeneratedDocumentTest(unittest.TestCase):
    CASES = 400

    @NEEDS_PYYAML
    def test_safe_dump_output_parses_equal_to_safe_load(self):
        rng = random.Random(20261124)
        for number in range(self.CASES):
            value = {random_key(rng): random_value(rng) for _ in range(rng.randint(1, 6))}
            if number % 10 == 0:
                value = [value, random_value(rng)]
            width = rng.choice([20, 40, 80, 120])
            allow_unicode = rng.random() < 0.25
            text = yaml.safe_dump(value, default_flow_style=False, width=width, allow_unicode=allow_unicode)
            with self.subTest(number=number, width=width):
                self.assertTrue(same(parse_yaml(text), yaml.safe_load(text)), text)

    @NEEDS_PYYAML
    def test_long_top_level_strings_fold_and_rejoin(self):
        rng = random.Random(7)
        for number in range(100):
            value = {"signature": {"inputs": random_string(rng, long=True)}, "k": random_string(rng, long=True)}
            text = yaml.safe_dump(value, default_flow_style=False)
            with self.subTest(number=number):
                self.assertTrue(same(parse_yaml(text), yaml.safe_load(text)), text)


# --- every MLmodel shipped with the repository ----------------------------------------------


def repository_mlmodel_files():
    found = []
    for folder in (os.path.join(REPO_ROOT, "tests", "fixtures", "models"), os.path.join(REPO_ROOT, "examples")):
        for root, _dirs, files in os.walk(folder):
            if "MLmodel" in files:
                found.append(os.path.join(root, "MLmodel"))
    return sorted(found)


class RepositoryFixtureTest(unittest.TestCase):
    def test_fixture_directory_holds_at_least_one_mlmodel(self):
        fixtures = os.path.join(REPO_ROOT, "tests", "fixtures", "models")
        if not os.path.isdir(fixtures):
            self.skipTest("tests/fixtures/models does not exist yet")
        self.assertTrue(any(path.startswith(fixtures) for path in repository_mlmodel_files()))

    def test_every_repository_mlmodel_reads_into_a_spec_with_flavors(self):
        for path in repository_mlmodel_files():
            with self.subTest(os.path.relpath(path, REPO_ROOT)):
                spec = read_mlmodel(os.path.dirname(path))
                self.assertIsInstance(spec.flavors, dict)

    @NEEDS_PYYAML
    def test_every_repository_mlmodel_parses_equal_to_pyyaml(self):
        for path in repository_mlmodel_files():
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
            with self.subTest(os.path.relpath(path, REPO_ROOT)):
                self.assertTrue(same(parse_yaml(text), yaml.safe_load(text)))


# --- refusals name the line -----------------------------------------------------------------

ERROR_CASES = [
    ("anchor", "a: 1\nb: &x 2\n", 2, "anchor"),
    ("alias", "a: 1\nb: *x\n", 2, "alias"),
    ("tag", "a: !!str 1\n", 1, "tag"),
    ("block literal", "a: 1\nb: |\n  text\n", 2, "block literal"),
    ("block folded", "a: >\n  text\n", 1, "block folded"),
    ("flow mapping", "x: 1\ny: 2\nz: {a: 1}\n", 3, "flow mapping with content"),
    ("flow sequence", "x: [1, 2]\n", 1, "flow sequence with content"),
    ("tab indentation", "a:\n\tb: 1\n", 2, "tab"),
    ("collection as key", "a: 1\n? - x\n: b\n", 2, "collection used as a mapping key"),
    ("multiple documents", "a: 1\n---\nb: 2\n", 2, "multiple documents"),
    ("unterminated quote", "a: 1\nb: 'abc\n", 2, "unterminated"),
    ("mapping value in plain", "a: b: c\n", 1, "mapping value"),
    ("bad indentation", "a:\n    b: 1\n  c: 2\n", 3, "indentation"),
    ("unknown escape", 'a: "\\q"\n', 1, "escape"),
    ("directive", "%YAML 1.1\n---\na: 1\n", 1, "directive"),
    ("merge key", "<<: 1\n", 1, "merge"),
]


class ErrorTest(unittest.TestCase):
    def test_unsupported_constructs_raise_naming_the_line(self):
        for name, text, line, fragment in ERROR_CASES:
            with self.subTest(name):
                with self.assertRaises(MLmodelSyntaxError) as caught:
                    parse_yaml(text)
                message = str(caught.exception)
                self.assertTrue(message.startswith(f"MLmodel line {line}: unsupported YAML ("), message)
                self.assertIn(fragment, message)

    def test_message_quotes_the_offending_text(self):
        with self.assertRaises(MLmodelSyntaxError) as caught:
            parse_yaml("x: 1\ny: 2\nz: {a: 1}\n")
        self.assertEqual(str(caught.exception), "MLmodel line 3: unsupported YAML (flow mapping with content): '{a: 1}'")

    def test_syntax_error_is_a_model_load_error(self):
        self.assertTrue(issubclass(MLmodelSyntaxError, ModelLoadError))


# --- read_mlmodel and ModelSpec -------------------------------------------------------------


class ReadMLmodelTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.dir = self.tmp.name

    def write(self, text: str, name: str = "MLmodel") -> str:
        path = os.path.join(self.dir, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return path

    def test_directory_and_file_path_give_the_same_spec(self):
        path = self.write(CUSTOM_PYFUNC_MLMODEL)
        self.assertEqual(read_mlmodel(self.dir), read_mlmodel(path))

    def test_spec_properties_name_the_mlmodel_keys(self):
        self.write(CUSTOM_PYFUNC_MLMODEL)
        spec = read_mlmodel(self.dir)
        self.assertEqual(spec.path, os.path.abspath(self.dir))
        self.assertEqual(spec.loader_module, "mlflow.pyfunc.model")
        self.assertEqual(spec.pyfunc["python_model"], "python_model.pkl")
        self.assertEqual(set(spec.flavors), {"python_function"})
        self.assertEqual(spec.signature["outputs"][:10], '[{"type": ')
        self.assertFalse(spec.is_signature_from_type_hint)
        self.assertEqual(spec.saved_input_example_info["params"], "true")
        self.assertEqual(spec.mlflow_version, "3.17.2")
        self.assertEqual(spec.metadata, {"owner": "spec-team"})
        self.assertEqual(spec.resolve("artifacts/lookup.json"), os.path.join(spec.path, "artifacts", "lookup.json"))

    def test_missing_keys_give_none(self):
        self.write("flavors: {}\n")
        spec = read_mlmodel(self.dir)
        for name in ("pyfunc", "loader_module", "signature", "saved_input_example_info", "mlflow_version", "metadata"):
            with self.subTest(name):
                self.assertIsNone(getattr(spec, name))
        self.assertFalse(spec.is_signature_from_type_hint)

    def test_load_failures_are_one_line_model_load_errors(self):
        missing = os.path.join(self.dir, "nope")
        cases = [
            ("missing directory", missing, "does not exist"),
            ("no MLmodel", self.dir, f"No MLmodel file found in {os.path.abspath(self.dir)}"),
        ]
        for name, target, fragment in cases:
            with self.subTest(name):
                with self.assertRaises(ModelLoadError) as caught:
                    read_mlmodel(target)
                self.assertIn(fragment, str(caught.exception))
                self.assertNotIn("\n", str(caught.exception))

    def test_syntax_error_names_the_file_and_line(self):
        path = self.write("flavors:\n  x: &a 1\n")
        with self.assertRaises(MLmodelSyntaxError) as caught:
            read_mlmodel(self.dir)
        self.assertTrue(str(caught.exception).startswith(f"{path} line 2: "))

    def test_top_level_not_a_mapping_is_refused(self):
        for text in ("- a\n- b\n", "just text\n", ""):
            with self.subTest(text=text):
                self.write(text)
                with self.assertRaisesRegex(ModelLoadError, "mapping at the top level"):
                    read_mlmodel(self.dir)

    def test_undecodable_file_is_refused(self):
        with open(os.path.join(self.dir, "MLmodel"), "wb") as handle:
            handle.write(b"a: \xff\xfe\n")
        with self.assertRaisesRegex(ModelLoadError, "Cannot read"):
            read_mlmodel(self.dir)


if __name__ == "__main__":
    unittest.main()
