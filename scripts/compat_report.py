"""Compare tinyserve with `mlflow models serve` by hand and print a table.

Runs the same corpus and rules as tests/test_compat_mlflow.py. Run from the repository root
with tinyserve's Python (no MLflow needed there); MLflow's Python comes from
TINYSERVE_MLFLOW_PYTHON or --mlflow-python:

    python scripts/compat_report.py                       # everything
    python scripts/compat_report.py -k colsig.split       # case ids containing a text
    python scripts/compat_report.py --model sk_skops --all --json out.json
    python scripts/compat_report.py --record mlflow.json    # keep MLflow's answers, then
    python scripts/compat_report.py --replay mlflow.json    # re-check tinyserve alone, fast
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys
from typing import List, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.compat.compare import render  # noqa: E402
from tests.compat.corpus import build_corpus, runnable  # noqa: E402
from tests.compat.harness import check_rules, report, run_comparison, spec_notes  # noqa: E402
from tests.support import MLFLOW_PYTHON_ENV  # noqa: E402


def short(form: dict) -> str:
    """Status plus the gist of the body, for the table."""
    if "error" in form:
        return f"{form['status']} {form['error'].get('error_code')}"
    if "json" in form:
        return f"{form['status']} json"
    return f"{form['status']} {form.get('text', '')[:20]!r}"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlflow-python", default=os.environ.get(MLFLOW_PYTHON_ENV),
                        help=f"Python with MLflow 3.17 installed (default: ${MLFLOW_PYTHON_ENV})")
    parser.add_argument("-k", "--contains", action="append", default=[],
                        help="only cases whose id contains this text (or matches this glob)")
    parser.add_argument("--model", action="append", default=[], help="only this fixture model")
    parser.add_argument("--all", action="store_true", help="list agreeing cases too")
    parser.add_argument("--json", metavar="FILE", help="write every outcome to FILE as JSON")
    parser.add_argument("--record", metavar="FILE", help="also save MLflow's answers to FILE")
    parser.add_argument("--replay", metavar="FILE",
                        help="take MLflow's answers from FILE (saved with --record): only "
                             "tinyserve is started")
    parser.add_argument("--ahead", type=int, default=2,
                        help="server pairs started ahead of the one in use (default 2)")
    args = parser.parse_args(argv)
    if not args.mlflow_python and not args.replay:
        parser.error(f"set {MLFLOW_PYTHON_ENV}, pass --mlflow-python or --replay")
    recording = {}
    if args.replay:
        with open(args.replay, encoding="utf-8") as handle:
            recording = json.load(handle)

    cases, skipped = runnable(build_corpus())
    for model, reason in skipped.items():
        print(f"skipped the cases of {model}: {reason}", file=sys.stderr)
    if args.contains:
        cases = [c for c in cases if any(k in c.id or fnmatch.fnmatch(c.id, k)
                                         for k in args.contains)]
    if args.model:
        cases = [c for c in cases if c.model in args.model]
    for problem in check_rules(build_corpus()):
        print("RULES:", problem)
    outcomes = run_comparison(cases, None if args.replay else args.mlflow_python,
                              ahead=args.ahead, recording=recording,
                              progress=lambda line: print(line, file=sys.stderr, flush=True))
    if args.record and not args.replay:
        with open(args.record, "w", encoding="utf-8") as handle:
            json.dump(recording, handle, indent=1)

    width = max([len(o.case.id) for o in outcomes] + [10])
    print(f"{'case':<{width}}  {'rule':<26}  {'mlflow':<28}  {'tinyserve':<28}  ok")
    for o in outcomes:
        if o.problem is None and not args.all:
            continue
        rule = o.plan.rule.name if o.plan.rule else ""
        print(f"{o.case.id:<{width}}  {rule:<26}  {short(o.mlflow):<28}  "
              f"{short(o.tinyserve):<28}  {'yes' if o.problem is None else 'NO'}")
    print()
    print(report(outcomes))
    for note in spec_notes(outcomes):
        print("spec vs MLflow:", note)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump([{"id": o.case.id, "model": o.case.model, "item": o.case.item,
                        "rule": o.plan.rule.name if o.plan.rule else None,
                        "problem": o.problem, "mlflow": json.loads(render(o.mlflow, 10 ** 9)),
                        "expected": json.loads(render(o.expected, 10 ** 9)),
                        "tinyserve": json.loads(render(o.tinyserve, 10 ** 9))}
                       for o in outcomes], handle, indent=1)
    return 0 if all(o.problem is None for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
