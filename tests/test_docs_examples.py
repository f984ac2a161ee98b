"""Every example the documentation includes runs, and prints what the docs say it prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.py"))

# A line (or part of one) each example prints when it works.
EXPECTED_OUTPUT = {
    "authorization_example.py": "kb.call raised AccessDeniedError: knowledge base "
    "http://example.org/kb/municipality is not permitted to use knowledge interaction "
    "'tree-owners'",
    "binding_models.py": "asked: IRI('http://example.org/oak') Decimal('21.5')",
    "first_kb.py": "request 2: [{'tree': '<http://example.org/oak>', 'height': "
    "'\"21\"^^<http://www.w3.org/2001/XMLSchema#integer>'}]",
    "middleware_example.py": "outcomes: {('heights', 'answered'): 2, ('heights', 'denied'): 1}",
    "handlers_di.py": "journal of request 2: "
    "['<http://example.org/elm> planted in <http://example.org/vondelpark>']",
    "outgoing_calls.py": "felling reports filed: ['<http://example.org/report/1>']",
    "testing_example.py": "request 3 lost its response, request 4 was answered",
    "test_with_pytest.py": "test_handler_inline_with_an_override passed",
}


def test_every_example_has_an_expected_output() -> None:
    assert EXAMPLES, "no examples found under docs/examples"
    assert sorted(path.name for path in EXAMPLES) == sorted(EXPECTED_OUTPUT)


def run_example(path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a Python file with this interpreter; it must exit 0 within a minute."""
    result = subprocess.run(
        [sys.executable, str(path)],
        cwd=cwd,
        timeout=60,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"{path.name} exited with {result.returncode}:\n{result.stderr}"
    return result


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_runs(path: Path) -> None:
    result = run_example(path, ROOT)
    expected = EXPECTED_OUTPUT.get(path.name)
    assert expected is not None, f"add the expected output of {path.name} to EXPECTED_OUTPUT"
    assert expected in result.stdout, f"{path.name} printed:\n{result.stdout}\n{result.stderr}"


def test_pytest_example_passes_under_pytest() -> None:
    path = ROOT / "docs" / "examples" / "test_with_pytest.py"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(path), "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        timeout=60,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "3 passed" in result.stdout, result.stdout


def test_the_readme_example_runs_prints_its_answer_and_ends(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"```python\n(.*?)```", readme, re.DOTALL)
    path = tmp_path / "readme_example.py"
    path.write_text(example, encoding="utf-8")
    result = run_example(path, tmp_path)
    (printed,) = result.stdout.splitlines()
    assert f"It prints\n`{printed}`." in readme  # what the README says it prints
    assert printed.startswith("[{'tree': '<http://example.org/oak>', 'height': ")
