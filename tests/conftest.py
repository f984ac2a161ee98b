from __future__ import annotations

import pytest

from km_core import KnowledgeBase
from km_testing import TestClient
from tests.support import KB_ID


@pytest.fixture
def client() -> TestClient:
    return TestClient()


@pytest.fixture
def kb(client: TestClient) -> KnowledgeBase:
    return KnowledgeBase(id=KB_ID, name="test", description="A KB under test", client=client)
