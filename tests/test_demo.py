"""The README's demo runs, and shows the concurrent loop beating the sequential one."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).parent.parent / "examples" / "concurrency_demo.py"


def test_the_demo_runs_and_shows_the_speedup() -> None:
    completed = subprocess.run(
        [sys.executable, str(DEMO), "--requests", "20", "--delay", "0.05"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "max_concurrent_handlers=1 " in completed.stdout
    assert "max_concurrent_handlers=10 " in completed.stdout
    match = re.search(r"was ([\d.]+)x faster", completed.stdout)
    assert match is not None, completed.stdout
    assert float(match.group(1)) > 3  # ideally 10; a wide bound for a noisy machine
