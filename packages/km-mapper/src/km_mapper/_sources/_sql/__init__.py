"""The SQL source: databases through SQLAlchemy 2's asyncio engine.

``_source`` holds `SqlDatabase`, its engine and pool; ``_serving`` answers and reacts for one
interaction; ``_statements`` checks the configured SQL and builds the filtered query;
``_columns`` converts incoming values to the types of the columns and parameters they meet.
"""

from ._source import SqlDatabase

__all__ = ["SqlDatabase"]
