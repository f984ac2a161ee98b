"""The benchmark scripts still run (at a tiny size); their figures are not asserted."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import selectors
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SERVER_TIMEOUT = 30  # seconds for km-testing serve to listen, or to stop


@pytest.mark.parametrize("kind", ["sdk", "bare"])
def test_the_instruction_count_workloads_run(kind: str) -> None:
    """What instructions.py runs under callgrind runs (valgrind itself is not needed here)."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "instructions.py"), "--workload", kind, "20"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


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


@pytest.fixture(scope="module")
def legacy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One virtualenv with the legacy SDK for both harness runs (installing it takes a while)."""
    return tmp_path_factory.mktemp("legacy")


def load_harness(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # as for `python benchmarks/harness.py`
    spec = importlib.util.spec_from_file_location("harness", BENCHMARKS / "harness.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def assert_cpu_measured(http: dict[str, Any]) -> None:
    """Scenario 3 over HTTP: the overlapping raw loop ran, and both processes' CPU was taken."""
    assert http["raw_httpx_requests_per_s"]["median"] > 0
    assert http["sdk_requests_per_s"]["median"] > 0
    for key in ("sdk_cpu_us_per_request", "raw_cpu_us_per_request"):
        assert 0 < http[key]["min"] <= http[key]["median"] <= http[key]["max"], key
    assert http["sdk_cpu_over_raw"] > 0
    assert http["sdk_poll_conflicts"] >= 0
    assert http["raw_poll_conflicts"] >= 0


# Each HTTP scenario starts knowledge bases in processes of their own, and scenario 6 installs
# the legacy SDK from PyPI into a new virtualenv: minutes on a slow machine.
@pytest.mark.timeout(300)
def test_harness_runs_quick(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, legacy_cache: Path
) -> None:
    module = load_harness(monkeypatch)
    module.main(["--quick", "--out", str(tmp_path), "--legacy-cache", str(legacy_cache)])
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
        "8_reasoning",
        "9_mapper_mariadb",
    }
    assert {"platform", "cpu_count", "python"} <= set(results["machine"])
    scenarios = results["scenarios"]
    for name in ("1_concurrency", "2_sync_handlers", "4_wakeup_latency", "5_fanout"):
        assert set(scenarios[name]) >= {"in_process", "http"}, name
    assert_cpu_measured(scenarios["3_overhead"]["http"])
    reasoning = scenarios["8_reasoning"]
    assert reasoning["8a"][0]["contacted"] == 3  # the join: two KBs in part, one in full
    assert reasoning["nine alike triples"][0]["failed"]  # past the match budget, in time
    legacy = scenarios["6_legacy_sdk"]
    assert "skipped" in legacy or legacy["scenario_1"]["legacy_s"]["median"] > 0
    # Scenario 9 runs wherever a MariaDB is given (KM_TEST_MARIADB_URL), and is "not run" else.
    mapper = scenarios["9_mapper_mariadb"]
    if os.environ.get("KM_TEST_MARIADB_URL"):
        assert "skipped" not in mapper, mapper
        assert mapper["km_mapper"]["asks_per_s"]["median"] > 0
        assert "skipped" in mapper["legacy"] or mapper["legacy"]["asks_per_s"]["median"] > 0
        # 100 incoming bindings, one statement: not a timing, so it holds at any size.
        assert mapper["many_bindings"]["statements_per_ask"] == [1]
    else:
        assert "skipped" in mapper
    # Every row names a figure; a row with a target says whether it was met.
    assert all(row["figure"] for row in results["table"])
    assert (tmp_path / "results.md").read_text().startswith("Machine:")
    assert (tmp_path / "throughput.png").stat().st_size > 0


@contextlib.contextmanager
def served_engine(log: Path) -> Iterator[tuple[str, int]]:
    """``km-testing serve`` on a free port, in a process of its own; its base URL and pid."""
    script = Path(sys.executable).with_name("km-testing")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "km_testing._cli"]
    with log.open("wb") as stderr:
        server = subprocess.Popen(
            [*command, "serve", "--port", "0", "--log-level", "warning"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        try:
            assert server.stdout is not None
            deadline = time.monotonic() + SERVER_TIMEOUT
            with selectors.DefaultSelector() as selector:
                selector.register(server.stdout, selectors.EVENT_READ)
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not selector.select(remaining):
                        pytest.fail(f"km-testing serve did not listen:\n{log.read_text()[-3000:]}")
                    line = server.stdout.readline()
                    if not line:
                        pytest.fail(f"km-testing serve ended:\n{log.read_text()[-3000:]}")
                    if " serves " in line:
                        yield line.rsplit(" serves ", 1)[1].strip(), server.pid
                        return
        finally:
            server.terminate()
            try:
                server.wait(SERVER_TIMEOUT)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            if server.stdout is not None:
                server.stdout.close()


# The same against an external engine (--ke-url): km-testing serve stands in for the real KE.
@pytest.mark.timeout(300)
def test_harness_runs_quick_against_an_external_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, legacy_cache: Path
) -> None:
    module = load_harness(monkeypatch)
    with served_engine(tmp_path / "server.log") as (url, pid):
        module.main(
            [
                *("--quick", "--out", str(tmp_path), "--legacy-cache", str(legacy_cache)),
                *("--ke-url", url, "--ke-label", "served local engine", "--ke-pid", str(pid)),
            ]
        )
        with urllib.request.urlopen(f"{url}/sc", timeout=10) as response:
            left = json.load(response)
    assert left == [], "the run left knowledge bases registered"
    results = json.loads((tmp_path / "results.json").read_text())
    server = results["server"]
    assert server["url"] == url
    assert server["label"] == "served local engine"
    assert server["kb_base"].startswith("http://example.org/kb/bench-")
    assert server["left_over_kbs_deleted"] == []
    scenarios = results["scenarios"]
    assert set(scenarios) == {
        "0_round_trip",
        "1_concurrency",
        "3_overhead",
        "4_wakeup_latency",
        "6_legacy_sdk",
    }
    # Only the HTTP parts run against an external engine.
    assert set(scenarios["1_concurrency"]) >= {
        "http",
        "http_raw_httpx_sequential",
        "http_raw_httpx_overlapped",
    }
    assert "in_process" not in scenarios["1_concurrency"]
    assert set(scenarios["4_wakeup_latency"]) == {"samples", "http", "http_raw_httpx"}
    assert set(scenarios["3_overhead"]) == {"http"}
    assert_cpu_measured(scenarios["3_overhead"]["http"])
    if Path("/proc/self/stat").exists():  # the server's and the machine's CPU, for context
        for key in ("sdk_server_cpu_us_per_request", "raw_machine_cpu_us_per_request"):
            assert scenarios["3_overhead"]["http"][key]["median"] >= 0, key
    assert set(scenarios["4_wakeup_latency"]["http_raw_httpx"]) == {
        "p50_s",
        "p95_s",
        "poll_conflicts",
    }
    legacy = scenarios["6_legacy_sdk"]
    assert "skipped" in legacy or legacy["scenario_3"]["legacy_requests_per_s"]["median"] > 0
    rows = [row for row in results["table"] if not row["scenario"].startswith("6. legacy SDK")]
    assert all("served local engine" in row["scenario"] for row in rows)
    assert (tmp_path / "results.md").read_text().startswith("Machine:")
    assert (tmp_path / "throughput.png").stat().st_size > 0
