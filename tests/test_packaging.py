"""The release workflow builds packages that install and run.

``.github/workflows/release.yml`` releases one package per tag (``km-core-v0.1.0``): it checks
the tag against the package's ``__version__``, builds the package's sdist and wheel, and
publishes them to PyPI with trusted publishing. These tests hold the workflow to that structure,
run its version check and its build step as the workflow writes them (with bash, as the runner
does), and install the four wheels into a fresh virtual environment, where the packages import
and their console scripts run.

The build is isolated (hatchling comes from the package index) and the install pulls the
packages' dependencies from the index: when the index cannot be reached, the tests that need it
skip and say so, as ``tests/e2e/test_legacy_client.py`` does. Every subprocess has a deadline.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import signal
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from uv import find_uv_bin

from benchmarks.legacy import _UNREACHABLE as PIP_UNREACHABLE
from benchmarks.legacy import _environment

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
PACKAGES = sorted(path.parent.name for path in (ROOT / "packages").glob("*/pyproject.toml"))

STEP_TIMEOUT = 30  # seconds for the workflow's version check, or one command in the venv
BUILD_TIMEOUT = 60  # seconds to build one package's sdist and wheel
INSTALL_TIMEOUT = 90  # seconds to install the wheels and their dependencies into the venv
# The tests that build and install: the four builds, the install and their own commands.
BUILDS_AND_INSTALLS = pytest.mark.timeout(4 * BUILD_TIMEOUT + INSTALL_TIMEOUT + 2 * STEP_TIMEOUT)

# uv's words for an unreachable index (the build step installs hatchling with uv, and the venv
# is filled with uv), beside pip's.
UNREACHABLE = (*PIP_UNREACHABLE, "Failed to fetch", "tcp connect error", "dns error")
TAIL = 3000  # characters of a failed command's output quoted in a failure

# PyYAML reads the key `on` as the boolean true (YAML 1.1).
ON = True


def module(package: str) -> str:
    return package.replace("-", "_")


def version(package: str) -> str:
    about = ROOT / "packages" / package / "src" / module(package) / "__about__.py"
    value: str = runpy.run_path(str(about))["__version__"]
    return value


def workflow() -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return document


def step(job: Mapping[str, Any], key: str, value: str) -> dict[str, Any]:
    """The one step of ``job`` whose ``key`` (``id``, ``name``, ``uses``) is ``value``."""
    (found,) = [each for each in job["steps"] if each.get(key) == value]
    result: dict[str, Any] = found
    return result


def environment(**extra: str) -> dict[str, str]:
    """This process's environment for a child: this python's ``python`` first on PATH, and the
    pip ``PIP_FIND_LINKS`` that this machine may set passed to uv too."""
    env = _environment()
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    if env.get("PIP_FIND_LINKS") and "UV_FIND_LINKS" not in env:
        env["UV_FIND_LINKS"] = ",".join(env["PIP_FIND_LINKS"].split())
    env.update(extra)
    return env


def bash(script: str) -> list[str]:
    """The command that runs a ``run:`` script as the runner does with ``shell: bash``."""
    return ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script]


def run_with_the_index(
    what: str, command: list[str], *, cwd: Path, timeout: float, **env: str
) -> None:
    """Run ``command``, which needs the package index; skip the test when it is unreachable."""
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=environment(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the builder's and uv's children too
            process.communicate()
            pytest.skip(f"{what} took over {timeout:g} s; is the package index reachable?")
    if process.returncode != 0:
        for line in output.splitlines():
            if any(marker in line for marker in UNREACHABLE):
                pytest.skip(f"{what} could not reach the package index ({line.strip(' <')})")
        pytest.fail(f"{what} exited with {process.returncode}:\n{output[-TAIL:]}", pytrace=False)


# ---------------------------------------------------------------- the workflow


def test_the_tags_name_the_packages() -> None:
    assert PACKAGES == ["km-core", "km-httpx", "km-mapper", "km-testing"]
    assert workflow()[ON]["push"]["tags"] == [f"{package}-v*" for package in PACKAGES]
    for package in PACKAGES:
        project = tomllib.loads((ROOT / "packages" / package / "pyproject.toml").read_text())
        assert project["project"]["name"] == package
        assert project["tool"]["hatch"]["version"]["path"] == f"src/{module(package)}/__about__.py"


@pytest.mark.parametrize("package", PACKAGES)
def test_the_version_check_passes_the_packages_own_version(package: str, tmp_path: Path) -> None:
    check = step(workflow()["jobs"]["build"], "id", "package")
    assert check["env"] == {"TAG": "${{ github.ref_name }}"}
    outputs = tmp_path / "github_output"
    outputs.touch()

    done = subprocess.run(
        bash(check["run"]),
        cwd=ROOT,
        env=environment(TAG=f"{package}-v{version(package)}", GITHUB_OUTPUT=str(outputs)),
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert outputs.read_text() == f"directory=packages/{package}\n"


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ("km-core-v99.0.0", "the tag km-core-v99.0.0 says version 99.0.0, but "),
        ("km-httpx-v0.1", "the tag km-httpx-v0.1 says version 0.1, but "),
        ("km-nothing-v0.1.0", "the tag km-nothing-v0.1.0 names no package"),
    ],
)
def test_the_version_check_stops_a_tag_of_another_version(
    tag: str, message: str, tmp_path: Path
) -> None:
    check = step(workflow()["jobs"]["build"], "id", "package")
    outputs = tmp_path / "github_output"
    outputs.touch()

    done = subprocess.run(
        bash(check["run"]),
        cwd=ROOT,
        env=environment(TAG=tag, GITHUB_OUTPUT=str(outputs)),
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        check=False,
    )

    assert done.returncode == 1
    assert f"::error::{message}" in done.stdout
    assert outputs.read_text() == ""


def test_the_build_job_builds_the_tagged_package_and_uploads_it() -> None:
    build = workflow()["jobs"]["build"]
    uses = [each.get("uses") for each in build["steps"]]
    assert uses[:2] == ["actions/checkout@v4", "actions/setup-python@v5"]
    steps = [each.get("id") or each.get("name") or each["uses"] for each in build["steps"]]
    assert steps[2:] == [
        "package",
        "Install the builder",
        "Build the sdist and the wheel",
        "actions/upload-artifact@v4",
    ]
    # The builder the workflow installs is the one these tests build with.
    (requirement,) = [
        each
        for each in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["envs"][
            "default"
        ]["dependencies"]
        if each.startswith("build")
    ]
    assert step(build, "name", "Install the builder")["run"] == (
        f'python -m pip install "{requirement}"'
    )
    builder = step(build, "name", "Build the sdist and the wheel")
    assert builder["working-directory"] == "${{ steps.package.outputs.directory }}"
    assert builder["env"] == {"DIST": "${{ github.workspace }}/dist"}
    assert builder["run"].startswith("python -m build ")
    upload = step(build, "uses", "actions/upload-artifact@v4")["with"]
    assert upload["path"] == "dist/"
    assert upload["if-no-files-found"] == "error"
    assert workflow()["defaults"] == {"run": {"shell": "bash"}}


def test_the_publish_job_publishes_the_build_with_trusted_publishing() -> None:
    jobs = workflow()["jobs"]
    publish = jobs["publish"]
    assert publish["needs"] == "build"
    assert publish["environment"] == "pypi"
    assert publish["permissions"] == {"id-token": "write"}
    download, publisher = publish["steps"]
    assert download["uses"] == "actions/download-artifact@v4"
    upload = step(jobs["build"], "uses", "actions/upload-artifact@v4")["with"]
    assert download["with"] == {"name": upload["name"], "path": "dist/"}
    # Trusted publishing: no token or password is given to the action.
    assert publisher == {"uses": "pypa/gh-action-pypi-publish@release/v1"}


# ---------------------------------------------------------------- the build and the install


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every package's sdist and wheel, built by the workflow's build step."""
    out = tmp_path_factory.mktemp("dist")
    builder = step(workflow()["jobs"]["build"], "name", "Build the sdist and the wheel")
    for package in PACKAGES:
        run_with_the_index(
            f"building {package}",
            bash(builder["run"]),
            cwd=ROOT / "packages" / package,
            timeout=BUILD_TIMEOUT,
            DIST=str(out),
        )
    return out


def wheel(dist: Path, package: str) -> Path:
    return dist / f"{module(package)}-{version(package)}-py3-none-any.whl"


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the four wheels, km-testing with ``[server]``."""
    root = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(root)],
        env=environment(),
        capture_output=True,
        timeout=STEP_TIMEOUT,
        check=True,
    )
    run_with_the_index(
        "installing the wheels",
        [
            find_uv_bin(),
            "pip",
            "install",
            "--python",
            str(root / "bin" / "python"),
            str(wheel(dist, "km-core")),
            str(wheel(dist, "km-httpx")),
            f"km-testing[server] @ {wheel(dist, 'km-testing').as_uri()}",
            str(wheel(dist, "km-mapper")),
        ],
        cwd=root,
        timeout=INSTALL_TIMEOUT,
    )
    return root


def in_venv(venv: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """Run one of the venv's programs, away from the repository."""
    return subprocess.run(
        [str(venv / "bin" / command[0]), *command[1:]],
        cwd=venv,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        check=False,
    )


@BUILDS_AND_INSTALLS
@pytest.mark.parametrize("package", PACKAGES)
def test_the_build_makes_an_sdist_and_a_typed_wheel(dist: Path, package: str) -> None:
    assert (dist / f"{module(package)}-{version(package)}.tar.gz").is_file()
    with zipfile.ZipFile(wheel(dist, package)) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"{module(package)}-{version(package)}.dist-info/METADATA")
    assert {f"{module(package)}/__init__.py", f"{module(package)}/py.typed"} <= names
    text = metadata.decode()
    assert f"\nName: {package}\n" in text
    assert f"\nVersion: {version(package)}\n" in text
    assert "\nLicense-Expression: Apache-2.0\n" in text
    assert "\nDescription-Content-Type: text/markdown\n" in text
    assert f"\n# {package}\n" in text  # the README is the long description


@BUILDS_AND_INSTALLS
def test_the_installed_packages_import_from_the_venv(venv: Path) -> None:
    script = (
        "import importlib.metadata, json, km_core, km_httpx, km_mapper, km_testing\n"
        "print(json.dumps({m.__name__: [m.__version__, m.__file__,"
        " importlib.metadata.version(m.__name__.replace('_', '-'))]"
        " for m in (km_core, km_httpx, km_mapper, km_testing)}))\n"
    )

    done = in_venv(venv, "python", "-c", script)

    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    for package in PACKAGES:
        about, file, installed = found[module(package)]
        assert about == installed == version(package)
        assert Path(file).is_relative_to(venv), f"{module(package)} came from {file}"


@BUILDS_AND_INSTALLS
def test_the_server_extra_brings_the_http_engine(venv: Path) -> None:
    script = (
        "import uvicorn\n"
        "from km_testing import LocalKnowledgeEngine, create_app\n"
        "print(type(create_app(LocalKnowledgeEngine())).__name__)\n"
    )

    done = in_venv(venv, "python", "-c", script)

    assert done.returncode == 0, done.stderr
    assert done.stdout == "Starlette\n"


@BUILDS_AND_INSTALLS
def test_km_runs_from_the_venv(venv: Path) -> None:
    done = in_venv(venv, "km", "--help")

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: km ")
    assert re.search(r"^ +run +\S", done.stdout, re.MULTILINE), done.stdout  # its one command

    done = in_venv(venv, "km", "--version")

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"km (km-httpx) {version('km-httpx')}\n"


@BUILDS_AND_INSTALLS
def test_km_testing_serve_runs_from_the_venv(venv: Path) -> None:
    done = in_venv(venv, "km-testing", "serve", "--help")

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: km-testing serve ")
    assert "Serve a local Knowledge Engine" in done.stdout
    assert "--kb-wait-timeout" in done.stdout


@BUILDS_AND_INSTALLS
def test_km_mapper_runs_from_the_venv(venv: Path, tmp_path: Path) -> None:
    done = in_venv(venv, "km-mapper", "--help")

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: km-mapper ")

    config = tmp_path / "mapper.yaml"
    config.write_text(
        "knowledge_base: {id: 'http://example.org/kb/trees', name: trees}\n"
        "sources: {code: {type: python, object: 'json:dumps'}}\n"
        "knowledge_interactions:\n"
        "  - {name: heights, type: answer, graph_pattern: '?t <http://example.org/h> ?h .'}\n"
    )
    done = in_venv(venv, "km-mapper", "check", str(config))

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: http://example.org/kb/trees"), done.stdout
