"""Fixtures of km-mapper's tests: the real servers of servers.py, each test a clean state."""

from __future__ import annotations

from tests.mapper.servers import fuseki_dataset, mariadb_database, postgres_database

__all__ = ["fuseki_dataset", "mariadb_database", "postgres_database"]
