#!/usr/bin/env bash
# Install tinyserve with its test extras into .venvs/test and run the whole suite.
# Tests that compare with real MLflow run when TINYSERVE_MLFLOW_PYTHON names a python with
# MLflow installed, and the MLServer engine's when TINYSERVE_MLSERVER_PYTHON names one with
# tinyserve[mlserver] (.ci/run sets both up); otherwise they are skipped with a reason.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venvs/test
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q -e '.[test]'
exec "$VENV/bin/python" -m pytest tests -q -rs "$@"
