from __future__ import annotations

import pytest
from hypothesis import settings

from km_core import KnowledgeBase
from km_testing import TestClient
from tests.support import KB_ID

# No example may fail for taking long: the machines these tests run on are shared and noisy,
# and a deadline is a tight absolute time. No example database is written into the clone.
settings.register_profile("km", deadline=None, database=None)
settings.load_profile("km")


@pytest.fixture
def client() -> TestClient:
    return TestClient()


@pytest.fixture
def kb(client: TestClient) -> KnowledgeBase:
    return KnowledgeBase(id=KB_ID, name="test", description="A KB under test", client=client)
