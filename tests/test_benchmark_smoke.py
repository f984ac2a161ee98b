"""The benchmark scripts still run (at a tiny size); their figures are not asserted."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_binding_conversion_runs() -> None:
    spec = importlib.util.spec_from_file_location(
        "binding_conversion", BENCHMARKS / "binding_conversion.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    results = module.run(bindings=20, repeat=1)
    assert set(results) == {
        "read (from_binding)",
        "write (to_binding)",
        "baseline: pydantic, five str fields",
        "baseline: json.loads of the bindings",
    }
    assert all(seconds > 0 for seconds in results.values())


# Each HTTP scenario starts knowledge bases in processes of their own, and scenario 6 installs
# the legacy SDK from PyPI into a new virtualenv: minutes on a slow machine.
@pytest.mark.timeout(300)
def test_harness_runs_quick(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # as for `python benchmarks/harness.py`
    spec = importlib.util.spec_from_file_location("harness", BENCHMARKS / "harness.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module.main(["--quick", "--out", str(tmp_path), "--legacy-cache", str(tmp_path / "legacy")])
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["scenarios"]) == {
        "0_round_trip",
        "1_concurrency",
        "2_sync_handlers",
        "3_overhead",
        "4_wakeup_latency",
        "5_fanout",
        "6_legacy_sdk",
        "7_memory",
    }
    assert {"platform", "cpu_count", "python"} <= set(results["machine"])
    scenarios = results["scenarios"]
    for name in ("1_concurrency", "2_sync_handlers", "4_wakeup_latency", "5_fanout"):
        assert set(scenarios[name]) >= {"in_process", "http"}, name
    assert scenarios["3_overhead"]["http"]["raw_httpx_requests_per_s"]["median"] > 0
    legacy = scenarios["6_legacy_sdk"]
    assert "skipped" in legacy or legacy["scenario_1"]["legacy_s"]["median"] > 0
    # Every row names a figure; a row with a target says whether it was met.
    assert all(row["figure"] for row in results["table"])
    assert (tmp_path / "results.md").read_text().startswith("Machine:")
    assert (tmp_path / "throughput.png").stat().st_size > 0
