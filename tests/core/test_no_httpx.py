"""km-core talks to the network only through ClientProtocol: it never imports httpx."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import km_core

CORE_SOURCE = Path(km_core.__file__).parent


def test_importing_km_core_does_not_import_httpx() -> None:
    code = (
        "import sys, km_core, km_core._knowledge_base, km_core._inject; "
        "assert 'httpx' not in sys.modules, sorted(m for m in sys.modules if 'httpx' in m)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr


def test_no_km_core_module_mentions_an_httpx_import() -> None:
    offenders = [
        path.name
        for path in CORE_SOURCE.rglob("*.py")
        if "import httpx" in path.read_text() or "from httpx" in path.read_text()
    ]
    assert offenders == []


def test_km_core_declares_no_httpx_dependency() -> None:
    pyproject = CORE_SOURCE.parents[1] / "pyproject.toml"
    assert "httpx" not in pyproject.read_text()
