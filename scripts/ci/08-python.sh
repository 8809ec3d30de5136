#!/usr/bin/env bash
# CI step: the Python package as a user installs it (the wheel from dist/, made by
# 04-build.sh from the sdist, so the sdist is known to build), its tests and lints.
# Runs alone (scripts/ci/08-python.sh) or in order from scripts/test.
source "$(dirname "$0")/common.sh"

step "Python package: the wheel from dist/ into a fresh venv with no Rust on PATH, import peo, pytest, ruff"
wheel=$(echo dist/peo-*.whl)
rm -rf "$venv"
t0=$(date +%s%N)
without_rust bash -c '! command -v cargo && ! command -v rustc' >/dev/null
without_rust python3 -m venv "$venv"
without_rust "$venv/bin/pip" install -q --no-index --disable-pip-version-check "$wheel"
echo "wheel: $(basename "$wheel") installed into a fresh venv in $(since "$t0"), no cargo or rustc on PATH"
without_rust "$venv/bin/python" -c "import peo; print('import peo:', peo.__version__, 'wire format', peo.WIRE_FORMAT_VERSION, peo.__file__)"
# python/pyproject.toml [test]; boto3, moto and awslambdaric for the Step Functions tests
"$venv/bin/pip" install -q --disable-pip-version-check pytest mypy ruff==0.17.6 jsonschema==4.25.1 \
  boto3==1.44.8 "moto[server,stepfunctions,s3]==5.2.5" awslambdaric==4.2.2
(cd python && without_rust "../$venv/bin/python" -m pytest -q tests)
"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .

