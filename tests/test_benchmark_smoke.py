"""The benchmark scripts still run (at a tiny size); their figures are not asserted."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

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
