"""The legacy knowledge-mapper 0.0.24 and an SDK knowledge base exchange knowledge on any
Knowledge Engine.

The exchange of tests/e2e/test_legacy_client.py (which runs it against a ``km-testing serve``
process), here in conformance mode: against the served local engine always, and against the KE
at ``KM_TEST_KE_URL`` when it is set (see test_contract_any_ke.py). knowledge-mapper is
installed from PyPI into a virtualenv of its own; the test skips, saying why, when it cannot be.
The KB ids and the namespace of the patterns carry a tag of their own, so that no one else's
KB on a shared KE answers, and both KBs are deleted afterwards.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.conformance.rest import delete_kbs
from tests.conformance.test_contract_any_ke import ke_url  # noqa: F401 - a fixture
from tests.e2e.test_legacy_client import (
    exchange_with_a_legacy_kb,
    legacy_python,  # noqa: F401 - a fixture
)

pytestmark = pytest.mark.ke


@pytest.mark.timeout(300)  # the first use installs knowledge-mapper from PyPI
async def test_a_legacy_knowledge_mapper_kb_and_an_sdk_kb_exchange_knowledge(
    legacy_python: Path,  # noqa: F811 - the fixture
    ke_url: str,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    tag = uuid.uuid4().hex[:12]
    sdk_id = f"http://example.org/kb/conformance-{tag}/sdk"
    legacy_id = f"http://example.org/kb/conformance-{tag}/legacy"
    try:
        await exchange_with_a_legacy_kb(
            legacy_python,
            ke_url,
            tmp_path,
            sdk_id=sdk_id,
            legacy_id=legacy_id,
            namespace=f"http://example.org/conformance-{tag}/",
        )
    finally:
        await delete_kbs(ke_url, sdk_id, legacy_id)
