"""The Python example runs, and type-checks under mypy --strict against the package's
stubs and annotations."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "python" / "service.py"


def test_the_example_runs():
    out = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, check=True).stdout
    assert "bank: 2 records, then terminated (succeeded)" in out and "verified:" in out


def test_the_example_type_checks():
    try:
        from mypy import api
    except ImportError as e:  # the test command installs it: pip install ./python[test]
        raise AssertionError("mypy is required for this test: pip install './python[test]'") from e
    stdout, stderr, status = api.run(["--strict", "--no-incremental", str(EXAMPLE)])
    assert status == 0, stdout + stderr
