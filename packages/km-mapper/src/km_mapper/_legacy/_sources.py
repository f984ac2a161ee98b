"""The legacy file's one data source as a source of ours, named ``legacy``.

The legacy read a SPARQL endpoint (``sparql``), else a MySQL database (``sql_host`` and the
other ``sql_*`` keys), else a plugin class (``plugin``); so does this, in that order.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ._context import Conversion

__all__ = ["SOURCE_KEYS", "SQL_PASSWORD_ENV", "convert_source"]

SQL_KEYS = ("sql_host", "sql_port", "sql_database", "sql_user", "sql_password")
SOURCE_KEYS = frozenset({"sparql", "plugin", *SQL_KEYS})
"""The legacy's top-level keys that describe its data source."""

SQL_PASSWORD_ENV = "KM_MAPPER_SQL_PASSWORD"
"""The environment variable that holds the password the legacy file held as ``sql_password``."""


def convert_source(legacy: dict[str, Any], conversion: Conversion) -> dict[str, Any]:
    """The source of ours that does what the legacy file's data source did.

    Raises:
        MapperConfigError: the file has no data source, or one the legacy could not use.
    """
    given = [key for key in ("sparql", "sql_host", "plugin") if key in legacy]
    if not given:
        conversion.fail(
            "the file has no data source: the legacy needed 'sparql', 'sql_host' (with the "
            "other sql_* keys) or 'plugin'"
        )
    used = given[0]
    ignored = [
        key
        for key in ("sparql", *SQL_KEYS, "plugin")
        if key in legacy and not (key == used or (used == "sql_host" and key in SQL_KEYS))
    ]
    if ignored:
        conversion.note(
            f"the data source is '{used}'; {', '.join(ignored)} not carried over (the legacy "
            "used only the first of sparql, sql_host and plugin)"
        )
    if used == "sparql":
        return _sparql(conversion.mapping(legacy["sparql"], "sparql"), conversion)
    if used == "sql_host":
        return _mysql(legacy, conversion)
    return _plugin(conversion.mapping(legacy["plugin"], "plugin"), conversion)


def _mysql(legacy: dict[str, Any], conversion: Conversion) -> dict[str, Any]:
    host = conversion.text(legacy["sql_host"], "sql_host")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    port = legacy.get("sql_port")
    if port is not None and not (isinstance(port, int | str) and str(port).isdigit()):
        conversion.fail(f"must be a port number, not {port!r}", "sql_port")
    user = legacy.get("sql_user")
    database = legacy.get("sql_database")
    url = "mysql+aiomysql://"
    url += f"{quote(conversion.text(user, 'sql_user'), safe='')}@" if user is not None else ""
    url += host + (f":{port}" if port is not None else "")
    if database is not None:
        url += f"/{quote(conversion.text(database, 'sql_database'), safe='')}"
    source: dict[str, Any] = {"type": "sql", "url": url}
    conversion.note(
        "sql_host, sql_port, sql_database and sql_user became the source's url "
        f"{url} (MySQL through SQLAlchemy and aiomysql: install km-mapper[mysql])"
    )
    if legacy.get("sql_password"):
        source["password_env"] = SQL_PASSWORD_ENV
        conversion.note(
            "sql_password is not carried over (a config file holds no secrets): set the "
            f"environment variable {SQL_PASSWORD_ENV} to the password before km run"
        )
    return source


def _sparql(sparql: dict[str, Any], conversion: Conversion) -> dict[str, Any]:
    endpoint = conversion.text(sparql.get("endpoint"), "sparql", "endpoint")
    query = endpoint + ("query" if endpoint.endswith("/") else "/query")
    source: dict[str, Any] = {"type": "sparql", "endpoint": query, "update_endpoint": endpoint}
    conversion.note(
        f"sparql.endpoint: queries now go to endpoint {query} and updates to update_endpoint "
        f"{endpoint}, where the legacy posted them; check that your server serves both there"
    )
    username = sparql.get("username_environment_var")
    password = sparql.get("password_environment_var")
    if username is not None and password is not None:
        source["username_env"] = conversion.text(username, "sparql", "username_environment_var")
        source["password_env"] = conversion.text(password, "sparql", "password_environment_var")
    elif username is not None or password is not None:
        conversion.note(
            "sparql: only one of username_environment_var and password_environment_var is "
            "given, and the legacy used neither then; not carried over"
        )
    unknown = sorted(
        set(sparql) - {"endpoint", "username_environment_var", "password_environment_var"}
    )
    if unknown:
        conversion.note(f"sparql: {', '.join(unknown)} not carried over (the legacy ignored them)")
    return source


def _plugin(plugin: dict[str, Any], conversion: Conversion) -> dict[str, Any]:
    dotted = conversion.text(plugin.get("class"), "plugin", "class")
    module, _, name = dotted.rpartition(".")
    if not module:
        conversion.fail(f"must be 'package.module.Class', not {dotted!r}", "plugin", "class")
    source: dict[str, Any] = {"type": "python", "object": f"{module}:{name}"}
    args = plugin.get("args")
    if args:
        if not isinstance(args, list):
            conversion.fail("must be a list of arguments", "plugin", "args")
        source["args"] = args
    conversion.note(
        f"plugin: {dotted} is now a python source, object {module}:{name}; the class must "
        "offer answer(interaction, binding_set) and react(interaction, binding_set) (sync or "
        "async), or give a function (interaction, binding_set) instead; the legacy called "
        "handle(ki, binding_set, requesting_kb) and test()"
    )
    unknown = sorted(set(plugin) - {"class", "args"})
    if unknown:
        conversion.note(f"plugin: {', '.join(unknown)} not carried over (the legacy ignored them)")
    return source
