"""The README's demo runs on the local engine: knowledge flows, and concurrency pays."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.testing.serving import km_testing_serve

DEMO = Path(__file__).parent.parent / "examples" / "demo.py"


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the demo with ``args``; it must exit 0 within two minutes."""
    completed = subprocess.run(
        [sys.executable, str(DEMO), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed


def test_the_demo_shows_an_exchange_and_the_speedup() -> None:
    out = run_demo("--requests", "20", "--delay", "0.05").stdout
    assert "Using a local Knowledge Engine" in out
    assert '<http://example.org/oak> is "21.5"^^<http://www.w3.org/2001/XMLSchema#decimal>' in out
    assert "trees reacted: <http://example.org/elm> gets" in out
    assert "max_concurrent_handlers=1 " in out
    assert "max_concurrent_handlers=10 " in out
    match = re.search(r"was ([\d.]+)x faster", out)
    assert match is not None, out
    assert float(match.group(1)) > 3  # ideally 10; a wide bound for a noisy machine


async def test_the_demo_runs_against_a_served_engine_with_ke_url(tmp_path: Path) -> None:
    async with km_testing_serve(tmp_path) as (base_url, _):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(DEMO),
            "--ke-url",
            base_url,
            "--requests",
            "10",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    out = stdout.decode()
    assert process.returncode == 0, stderr.decode()
    assert f"Using the Knowledge Engine at {base_url}" in out
    assert "trees reacted: <http://example.org/elm> gets" in out
    assert re.search(r"was [\d.]+x faster", out), out


@pytest.mark.ke
@pytest.mark.skipif(
    not os.environ.get("KM_TEST_KE_URL"),
    reason="no real Knowledge Engine: set KM_TEST_KE_URL to its REST base URL",
)
def test_the_demo_runs_against_a_real_knowledge_engine() -> None:
    url = os.environ["KM_TEST_KE_URL"]
    completed = run_demo("--ke-url", url, "--requests", "10")
    out = completed.stdout
    assert f"Using the Knowledge Engine at {url}" in out
    assert '<http://example.org/oak> is "21.5"^^<http://www.w3.org/2001/XMLSchema#decimal>' in out
    assert "trees reacted: <http://example.org/elm> gets" in out
    assert "Traceback" not in completed.stderr
