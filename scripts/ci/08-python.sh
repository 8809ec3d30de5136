#!/usr/bin/env bash
# CI step: the Python package as a user installs it, its tests and lints.
# Runs alone (scripts/ci/08-python.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

step "Python package: pip install ./python into a fresh venv, import peo, pytest, ruff"
# Exactly what a new user does (python/README.md); maturin builds the abi3 wheel with the
# workspace's target directory, so nothing is compiled twice.
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check ./python
"$venv/bin/python" -c "import peo; print('import peo:', peo.__version__, peo.__file__)"
"$venv/bin/pip" install -q --disable-pip-version-check pytest mypy ruff==0.17.6 jsonschema==4.25.1   # python/pyproject.toml [test]
(cd python && "../$venv/bin/python" -m pytest -q tests)
"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .
