"""Where the tests find the KE's reference files, which are not part of the repository.

Two test modules check the SDK against files of the TNO Knowledge Engine's reference:
``tests/testing/test_rest_conformance.py`` validates the served local engine against the REST
contract ``openapi-sc.yaml``, and ``tests/httpx/test_models.py`` checks its embedded examples
against ``openapi-sc.yaml`` and ``ke-rest-api.md``. Only those two use this module.

``KM_TEST_KE_REFERENCE`` names the directory that holds the files; without it, they are looked
for in ``../shared/reference`` beside the repository root. A test that needs a missing file
skips, with a reason that names the setting, so that a fresh clone passes the test suite. With
``KM_TEST_KE_REFERENCE_REQUIRED`` set (to anything but ``0``), as ``.ci/run`` sets it, such a
test fails instead: CI never skips the contract check silently.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SETTING = "KM_TEST_KE_REFERENCE"
REQUIRED_SETTING = "KM_TEST_KE_REFERENCE_REQUIRED"
REPOSITORY = Path(__file__).resolve().parents[1]
DEFAULT_DIRECTORY = REPOSITORY.parent / "shared" / "reference"


def reference_directory() -> Path:
    """The directory of the KE reference files: ``KM_TEST_KE_REFERENCE``, or the default."""
    configured = os.environ.get(SETTING, "")
    return Path(configured).expanduser() if configured else DEFAULT_DIRECTORY


def reference_file(name: str) -> Path:
    """Where the KE reference file ``name`` (e.g. ``openapi-sc.yaml``) is expected."""
    return reference_directory() / name


def require_reference(name: str) -> Path:
    """The KE reference file ``name``; skips the calling test when it is missing.

    Call it in a test or a fixture. When ``KM_TEST_KE_REFERENCE_REQUIRED`` is set, a missing
    file fails the test instead, with the same message.
    """
    path = reference_file(name)
    if not path.is_file():
        reason = (
            f"the KE reference file {name} is not in {path.parent} "
            f"(set {SETTING} to the directory that holds it)"
        )
        if os.environ.get(REQUIRED_SETTING, "") not in ("", "0"):
            pytest.fail(f"{reason}; {REQUIRED_SETTING} is set, so it may not skip", pytrace=False)
        pytest.skip(reason)
    return path
