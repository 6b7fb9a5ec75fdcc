"""Running MLflow from the tests (MLflow itself is never imported here): the MLflow python,
scripts in it, and filling a store with ``populate.py``."""
from __future__ import annotations

import json
import os
import subprocess
import unittest
from typing import List

from tests.support import MLFLOW_PYTHON_ENV, REPO

POPULATE = os.path.join(REPO, "tests", "stores", "populate.py")


def mlflow_python(purpose: str) -> str:
    """The python named by TINYSERVE_MLFLOW_PYTHON; the test is skipped, saying ``purpose``,
    when it is unset."""
    python = os.environ.get(MLFLOW_PYTHON_ENV)
    if not python:
        raise unittest.SkipTest(f"{MLFLOW_PYTHON_ENV} is not set: no MLflow 3.17 python to "
                                f"{purpose} (.ci/run sets it up)")
    return python


def run_mlflow(python: str, workdir: str, argv: List[str]) -> str:
    """``python *argv`` in ``workdir``; its stdout, or RuntimeError with the end of stderr."""
    done = subprocess.run([python, *argv], cwd=workdir, capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def populate(python: str, workdir: str, tracking_uri: str) -> dict:
    """Fill the store at ``tracking_uri`` (relative paths from ``workdir``); the manifest."""
    run_mlflow(python, workdir, [POPULATE, "--tracking-uri", tracking_uri,
                                 "--out", "manifest.json"])
    with open(os.path.join(workdir, "manifest.json"), encoding="utf-8") as handle:
        return json.load(handle)
