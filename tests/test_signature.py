"""Signature parsing and the schema reprs that appear in MLflow's error messages (spec 6, 7.2).

Expected reprs were checked against MLflow 3.17.2's ``mlflow.types.schema``.
"""
from __future__ import annotations

import datetime
import json
import subprocess
import sys
import unittest

from tests.support import REPO, child_env
from tinyserve.errors import ModelLoadError
from tinyserve.signature import (
    NUMPY_DTYPE_OF, SCALAR_TYPES, AnyType, Array, ColSpec, Map, Object, ParamSchema, ParamSpec,
    Property, Schema, Signature, TensorSpec, parse_param_schema, parse_schema, parse_signature,
)

# Spec 12.4, MLmodel (1): sklearn model with an inferred signature.
SKLEARN_SIGNATURE = {
    "inputs": '[{"type": "double", "name": "a", "required": true}, {"type": "double", '
              '"name": "b", "required": true}]',
    "outputs": '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]',
    "params": None,
}
# Spec 12.4, MLmodel (2): custom PythonModel with a params schema.
PYFUNC_SIGNATURE = {
    "inputs": '[{"type": "double", "name": "x", "required": true}, {"type": "string", '
              '"name": "note", "required": false}]',
    "outputs": '[{"type": "double", "name": "score", "required": true}, {"type": "string", '
               '"name": "label", "required": true}]',
    "params": '[{"name": "multiplier", "default": 1.0, "shape": null, "type": "double"}, '
              '{"name": "tag", "default": "none", "shape": null, "type": "string"}, {"name": '
              '"top_k", "default": 3, "shape": null, "type": "long"}, {"name": "verbose", '
              '"default": false, "shape": null, "type": "boolean"}, {"name": "ids", "default": '
              '[1, 2], "shape": [-1], "type": "long"}, {"name": "as_of", "default": '
              '"2024-01-02", "shape": null, "type": "datetime"}]',
}
# Spec 12.4, MLmodel (3): models from code.
CODE_SIGNATURE = {
    "inputs": '[{"type": "string", "name": "text", "required": true}]',
    "outputs": '[{"type": "long", "required": true}]',
    "params": None,
}


class ParseSignatureTest(unittest.TestCase):
    def test_sklearn_mlmodel_signature_gives_named_double_columns_and_tensor_output(self):
        signature = parse_signature(SKLEARN_SIGNATURE)
        self.assertEqual(repr(signature.inputs), "['a': double (required), 'b': double (required)]")
        self.assertEqual(repr(signature.outputs), "[Tensor('int64', (-1,))]")
        self.assertIsNone(signature.params)
        self.assertEqual(signature.inputs.input_names(), ["a", "b"])
        self.assertTrue(signature.outputs.is_tensor_spec())

    def test_pyfunc_mlmodel_signature_gives_optional_column_and_converted_defaults(self):
        signature = parse_signature(PYFUNC_SIGNATURE)
        self.assertEqual(signature.inputs.required_input_names(), ["x"])
        self.assertEqual(signature.inputs.optional_input_names(), ["note"])
        self.assertEqual(
            repr(signature.params),
            "['multiplier': double (default: 1.0), 'tag': string (default: none), "
            "'top_k': long (default: 3), 'verbose': boolean (default: False), "
            "'ids': long (default: [1, 2]) (shape: (-1,)), "
            "'as_of': datetime (default: 2024-01-02)]",
        )
        defaults = {spec.name: spec.default for spec in signature.params.params}
        self.assertEqual(defaults["as_of"], datetime.date(2024, 1, 2))
        self.assertIs(type(defaults["as_of"]), datetime.date)
        self.assertEqual(defaults["ids"], [1, 2])
        self.assertEqual(signature.params.params[4].shape, (-1,))

    def test_code_model_signature_gives_single_string_column_and_unnamed_output(self):
        signature = parse_signature(CODE_SIGNATURE)
        self.assertEqual(repr(signature.inputs), "['text': string (required)]")
        self.assertEqual(repr(signature.outputs), "[long (required)]")
        self.assertFalse(signature.outputs.has_input_names())

    def test_absent_or_null_parts_give_none(self):
        self.assertIsNone(parse_signature(None))
        signature = parse_signature({"inputs": None, "outputs": None, "params": '[]'})
        self.assertIsNone(signature.inputs)
        self.assertIsNone(signature.outputs)
        self.assertEqual(signature.params.params, [])
        self.assertIsNone(parse_signature({}).params)


class SchemaReprTest(unittest.TestCase):
    CASES = [
        ('[{"type": "double", "name": "a", "required": true}, '
         '{"type": "double", "name": "b", "required": true}]',
         "['a': double (required), 'b': double (required)]"),
        ('[{"type": "double", "required": true}, {"type": "long", "required": true}]',
         "[double (required), long (required)]"),
        ('[{"type": "string"}]', "[string (required)]"),  # MLflow 2.x file: no `required`
        ('[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 2]}}]',
         "[Tensor('float32', (-1, 2))]"),
        ('[{"name": "a", "type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 2]}},'
         ' {"name": "b", "type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]',
         "['a': Tensor('float64', (-1, 2)), 'b': Tensor('int64', (-1,))]"),
        ('[{"type": "array", "items": {"type": "long"}, "name": "arr", "required": true}]',
         "['arr': Array(long) (required)]"),
        ('[{"type": "object", "properties": {"name": {"type": "string", "required": true}, '
         '"age": {"type": "long", "required": false}}, "name": "obj", "required": true}]',
         "['obj': {age: long (optional), name: string (required)} (required)]"),
        # MLflow formats a Map's value type with str(): scalars show as DataType.<name>.
        ('[{"type": "map", "values": {"type": "double"}, "name": "m", "required": true}]',
         "['m': Map(str -> DataType.double) (required)]"),
        ('[{"type": "map", "values": {"type": "array", "items": {"type": "long"}}, '
         '"required": true}]', "[Map(str -> Array(long)) (required)]"),
        ('[{"type": "any", "name": "any", "required": false}]', "['any': Any (optional)]"),
        ('[{"type": "map", "values": {"type": "any"}, "required": true}]',
         "[Map(str -> Any) (required)]"),
        # complex column written without `required`: MLflow treats it as optional
        ('[{"type": "array", "items": {"type": "any"}, "name": "x"}]',
         "['x': Array(Any) (optional)]"),
        ('[{"type": "tensor", "tensor-spec": {"dtype": "<f8", "shape": [-1]}}]',
         "[Tensor('float64', (-1,))]"),
        ('[{"type": "tensor", "tensor-spec": {"dtype": "str", "shape": [-1]}}]',
         "[Tensor('str', (-1,))]"),
    ]

    def test_schema_repr_matches_mlflow(self):
        for json_text, expected in self.CASES:
            with self.subTest(expected=expected):
                self.assertEqual(repr(parse_schema(json_text)), expected)

    def test_type_reprs_match_spec_examples(self):
        cases = [
            (Array("long"), "Array(long)"),
            (Object([Property("name", "string"), Property("age", "long", required=False)]),
             "{age: long (optional), name: string (required)}"),
            (Map("double"), "Map(str -> DataType.double)"),
            (AnyType(), "Any"),
            (Array(Map("string")), "Array(Map(str -> DataType.string))"),
        ]
        for value_type, expected in cases:
            with self.subTest(expected=expected):
                self.assertEqual(repr(value_type), expected)

    def test_object_properties_are_sorted_by_name(self):
        obj = Object([Property("b", "long"), Property("a", "string")])
        self.assertEqual([prop.name for prop in obj.properties], ["a", "b"])

    def test_name_queries_for_named_unnamed_and_optional_columns(self):
        named = Schema([ColSpec("double", "a"), ColSpec("string", "b", required=False)])
        unnamed = Schema([ColSpec("double"), ColSpec("long")])
        tensors = Schema([TensorSpec("float32", (-1, 2))])
        cases = [
            (named, True, False, ["a", "b"], ["a"], ["b"]),
            (unnamed, False, False, [0, 1], [0, 1], []),
            (tensors, False, True, [0], [0], []),
        ]
        for schema, has_names, is_tensor, names, required, optional in cases:
            with self.subTest(schema=repr(schema)):
                self.assertEqual(schema.has_input_names(), has_names)
                self.assertEqual(schema.is_tensor_spec(), is_tensor)
                self.assertEqual(schema.input_names(), names)
                self.assertEqual(schema.required_input_names(), required)
                self.assertEqual(schema.optional_input_names(), optional)

    def test_param_spec_repr_matches_mlflow(self):
        cases = [
            (ParamSpec("temperature", "double", 0.5), "'temperature': double (default: 0.5)"),
            (ParamSpec("ids", "long", [1, 2], (-1,)),
             "'ids': long (default: [1, 2]) (shape: (-1,))"),
            (ParamSpec("kind", "string", None), "'kind': string (default: None)"),
            (ParamSpec("as_of", "datetime", datetime.date(2024, 1, 2)),
             "'as_of': datetime (default: 2024-01-02)"),
        ]
        for spec, expected in cases:
            with self.subTest(expected=expected):
                self.assertEqual(repr(spec), expected)


class ParamSchemaParsingTest(unittest.TestCase):
    def test_defaults_are_converted_like_mlflow_does_when_loading(self):
        cases = [
            ('{"name": "d", "default": "2024-01-02", "shape": null, "type": "datetime"}',
             datetime.date(2024, 1, 2)),
            ('{"name": "d", "default": "2024-01-02T03:04:05", "shape": null, "type": "datetime"}',
             datetime.datetime(2024, 1, 2, 3, 4, 5)),
            ('{"name": "d", "default": "2024-01-02T03:04:05.123456", "shape": null, '
             '"type": "datetime"}', datetime.datetime(2024, 1, 2, 3, 4, 5, 123456)),
            ('{"name": "d", "default": ["2024-01-02"], "shape": [-1], "type": "datetime"}',
             [datetime.date(2024, 1, 2)]),
            ('{"name": "x", "default": 1, "shape": null, "type": "double"}', 1.0),
            ('{"name": "x", "default": null, "shape": null, "type": "long"}', None),
            ('{"name": "x", "default": 3, "shape": null, "dtype": "long"}', 3),  # old `dtype` key
            ('{"name": "o", "default": {"a": 1}, "shape": null, "type": "object", '
             '"properties": {"a": {"type": "long", "required": true}}}', {"a": 1}),
        ]
        for entry, expected in cases:
            with self.subTest(entry=entry):
                spec = parse_param_schema(f"[{entry}]").params[0]
                self.assertEqual(spec.default, expected)
                self.assertIs(type(spec.default), type(expected))

    def test_invalid_params_schemas_fail_to_load(self):
        cases = [
            '[{"name": "x", "default": 1.5, "shape": null, "type": "long"}]',
            '[{"name": "x", "default": "b", "shape": null, "type": "binary"}]',
            '[{"name": "x", "default": 1, "shape": null, "type": "nope"}]',
            '[{"name": "x", "default": [1], "shape": [2], "type": "long"}]',
            '[{"name": "x", "default": 1, "shape": [-1], "type": "long"}]',
            '[{"name": "x", "default": "nope", "shape": null, "type": "datetime"}]',
            '[{"name": "x", "shape": null, "type": "long"}]',
            '[{"name": "x", "default": 1, "shape": null, "type": "long"}, '
            '{"name": "x", "default": 2, "shape": null, "type": "long"}]',
            'not json',
        ]
        for json_text in cases:
            with self.subTest(json_text=json_text):
                with self.assertRaises(ModelLoadError):
                    parse_param_schema(json_text)


class SchemaErrorsTest(unittest.TestCase):
    def test_malformed_schemas_fail_to_load_with_mlflow_reason(self):
        cases = [
            ("[]", "Creating Schema with empty inputs is not allowed."),
            ("nope", "Expecting value"),
            ('{"type": "long"}', "expected a JSON list"),
            ('[{"type": "foo", "name": "a"}]', "Unsupported type 'foo'"),
            ('[{"type": "long", "name": "a"}, {"type": "long"}]',
             "combination of named and unnamed inputs"),
            ('[{"type": "long", "required": false}]', "unnamed optional inputs"),
            ('[{"type": "object", "properties": {}, "name": "o"}]',
             "Creating Object with empty properties is not allowed."),
            ('[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1]}}, '
             '{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1]}}]',
             "multiple unnamed TensorSpecs"),
            ('[{"type": "tensor", "tensor-spec": {"dtype": "U10", "shape": [-1]}}]',
             "does not support size information"),
            ('[{"type": "tensor", "tensor-spec": {"dtype": "float32"}}]',
             "Expected to find keys `dtype` and `shape`"),
            ('[{"name": "a"}]', "Expected to find key `type`"),
        ]
        for json_text, reason in cases:
            with self.subTest(json_text=json_text):
                with self.assertRaises(ModelLoadError) as caught:
                    parse_schema(json_text)
                self.assertIn(reason, str(caught.exception))
                self.assertNotIn("\n", str(caught.exception))

    def test_signature_mapping_of_wrong_kind_fails_to_load(self):
        with self.assertRaises(ModelLoadError):
            parse_signature(["inputs"])


class ConstantsTest(unittest.TestCase):
    def test_every_scalar_type_has_a_numpy_dtype(self):
        self.assertEqual(set(NUMPY_DTYPE_OF), set(SCALAR_TYPES))
        self.assertEqual(NUMPY_DTYPE_OF["integer"], "int32")
        self.assertEqual(NUMPY_DTYPE_OF["datetime"], "datetime64[ns]")

    def test_signature_holds_its_parts(self):
        params = ParamSchema([ParamSpec("k", "string", "x")])
        signature = Signature(None, None, params)
        self.assertIs(signature.params, params)

    def test_module_imports_without_numpy_or_pandas(self):
        code = ("import sys, json; import tinyserve.signature as s; "
                "s.parse_signature({'inputs': %r, 'params': %r}); "
                "print(json.dumps(sorted(m for m in ('numpy', 'pandas') if m in sys.modules)))"
                % (PYFUNC_SIGNATURE["inputs"], PYFUNC_SIGNATURE["params"]))
        output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                env=child_env(), cwd=REPO, check=True).stdout
        self.assertEqual(json.loads(output), [])


if __name__ == "__main__":
    unittest.main()
