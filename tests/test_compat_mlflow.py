"""tinyserve answers like `mlflow models serve`: the corpus sent to both, answers compared.

The comparison needs a Python with MLflow 3.17 (env var TINYSERVE_MLFLOW_PYTHON; `.ci/run`
sets one up) and is skipped with a reason without it. The checks of the corpus, the rules and
the comparison helpers need nothing but this interpreter.
"""
from __future__ import annotations

import os
import re
import unittest

from tests.compat.compare import Answer, canonical_sets, difference, form_difference, form_of
from tests.compat.corpus import build_corpus, runnable
from tests.compat.differences import RULES
from tests.compat.harness import check_rules, report, run_comparison, spec_notes
from tests.support import MLFLOW_PYTHON_ENV, SUMMARY_LINES

CHECKLIST_ITEMS = range(1, 123)  # spec section 18: every item is observable over HTTP


class CorpusTest(unittest.TestCase):
    def test_corpus_has_at_least_200_cases_with_unique_ids(self):
        cases = build_corpus()
        self.assertGreaterEqual(len(cases), 200)
        self.assertEqual(len({case.id for case in cases}), len(cases))

    def test_every_checklist_item_has_a_case(self):
        covered = {case.item for case in build_corpus()}
        self.assertEqual([item for item in CHECKLIST_ITEMS if item not in covered], [])

    def test_rules_name_only_cases_of_the_corpus(self):
        self.assertEqual(check_rules(build_corpus()), [])

    def test_every_rule_has_a_reason_and_a_way_to_build_the_expected_answer(self):
        for rule in RULES:
            with self.subTest(rule.name):
                self.assertTrue(rule.reason.strip())
                self.assertTrue(rule.transform or rule.reference)
                self.assertTrue(rule.cases)


class CompareTest(unittest.TestCase):
    def test_set_renderings_are_put_in_one_order(self):
        table = [
            ("fields {'instances', 'inputs', 'dataframe_split'}. Received",
             "fields {'dataframe_split', 'inputs', 'instances'}. Received"),
            ("found: {('b', \"x, y\"), ('a', 'z')}", "found: {('a', 'z'), ('b', 'x, y')}"),
            ("data '{'prompt': 'hello'}'", "data '{'prompt': 'hello'}'"),
            ("extra inputs: ['z', 'messages'].", "extra inputs: ['messages', 'z']."),
            ("Unrecognized content type parameters: foo, baz. IMPORTANT: x",
             "Unrecognized content type parameters: baz, foo. IMPORTANT: x"),
            ("unbalanced {'a', 'b'", "unbalanced {'a', 'b'"),
        ]
        for text, expected in table:
            with self.subTest(text):
                self.assertEqual(canonical_sets(text), expected)

    def test_values_compare_by_type_order_and_float_tolerance(self):
        table = [
            (1.0, 1.0 + 1e-12, True), (1.0, 1.0001, False), (1, 1.0, False),
            (True, 1, False), (float("nan"), float("nan"), True), (None, None, True),
            ({"a": 1, "b": 2}, {"b": 2, "a": 1}, False), ([1, [2]], [1, [2]], True),
            (re.compile(r".*\bi32\b.*"), "column i32 overflows", True),
            (re.compile(r".*\bi32\b.*"), "column i64", False),
        ]
        for expected, actual, same in table:
            with self.subTest(expected=expected, actual=actual):
                self.assertEqual(difference(expected, actual) is None, same)

    def test_forms_record_strictness_errors_and_text(self):
        nan_body = form_of(Answer(200, {"content-type": "application/json"},
                                  b'{"predictions": [NaN]}'), 1)
        self.assertFalse(nan_body["strict_json"])
        error = form_of(Answer(400, {"content-type": "application/json"},
                               b'{"error_code": "BAD_REQUEST", "message": "m", '
                               b'"stack_trace": "Traceback"}'), 1)
        self.assertEqual(error["error"], {"error_code": "BAD_REQUEST", "message": "m"})
        self.assertTrue(error["stack_trace"])
        redirect = form_of(Answer(307, {"location": "http://127.0.0.1:8/ping"}, b""), 8)
        self.assertEqual(redirect["location"], "http://<server>/ping")
        self.assertIsNotNone(form_difference(nan_body, dict(nan_body, strict_json=True)))


class CompatWithMlflowTest(unittest.TestCase):
    """The whole corpus against real MLflow; fails unless every case agrees."""

    def test_tinyserve_answers_every_case_like_mlflow(self):
        python = os.environ.get(MLFLOW_PYTHON_ENV)
        if not python:
            self.skipTest(f"{MLFLOW_PYTHON_ENV} is not set: no MLflow 3.17 to compare with "
                          "(.ci/run sets it up)")
        cases, skipped = runnable(build_corpus())
        outcomes = run_comparison(cases, python,
                                  progress=lambda line: print("compat:", line, flush=True))
        text = report(outcomes)
        print(text)
        SUMMARY_LINES.append(f"compat with mlflow models serve: {text.splitlines()[0]}")
        for model, reason in skipped.items():
            print(f"compat: skipped the cases of {model}: {reason}")
        for note in spec_notes(outcomes):
            print("spec vs MLflow:", note)
        disagreements = [o.case.id for o in outcomes if o.problem]
        self.assertEqual(disagreements, [], text)


if __name__ == "__main__":
    unittest.main()
