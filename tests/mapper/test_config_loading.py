"""Reading config files: YAML, TOML and JSON give the same config, and every mistake is one error
that names the file, the line and the key, in plain words; relative paths follow the file."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from km_mapper import MapperConfig, MapperConfigError
from km_mapper._config import AnswerInteraction, SparqlSource, SqlSource, load_config
from km_mapper._config._loading import sqlite_url_resolved
from km_mapper._config._locating import json_locator, toml_locator

YAML = """\
# The trees of the city, from a SQLite file next to this one.
knowledge_engine:
  ke_url: http://localhost:8280/rest
  max_concurrent_handlers: 4
knowledge_base:
  id: http://example.org/kb/trees
  name: trees
  description: "The trees of the city\\tand \\"parks\\" \\u00e9"
  error_policy: empty_binding_set
prefixes:
  ex: http://example.org/
sources:
  db:
    type: sql
    url: sqlite+aiosqlite:///trees.db
knowledge_interactions:
  - name: heights
    type: answer
    graph_pattern: "?tree ex:height ?height ."
    query: |-
      SELECT id AS tree, height
      FROM trees
    terms:
      tree: {iri: "http://example.org/trees/{tree}"}
  - name: planted
    type: react
    argument_graph_pattern: "?tree ex:height ?height ."
    statements:
      - INSERT INTO trees (id, height) VALUES (:tree, :height)
"""

# Indented with tabs, which PyYAML's composer does not accept in JSON: the JSON pass must.
JSON = """\
{
\t"knowledge_engine": {
\t\t"ke_url": "http://localhost:8280/rest",
\t\t"max_concurrent_handlers": 4
\t},
\t"knowledge_base": {
\t\t"id": "http://example.org/kb/trees",
\t\t"name": "trees",
\t\t"description": "The trees of the city\\tand \\"parks\\" \\u00e9",
\t\t"error_policy": "empty_binding_set"
\t},
\t"prefixes": {"ex": "http://example.org/"},
\t"sources": {
\t\t"db": {"type": "sql", "url": "sqlite+aiosqlite:///trees.db"}
\t},
\t"knowledge_interactions": [
\t\t{
\t\t\t"name": "heights",
\t\t\t"type": "answer",
\t\t\t"graph_pattern": "?tree ex:height ?height .",
\t\t\t"query": "SELECT id AS tree, height\\nFROM trees",
\t\t\t"terms": {"tree": {"iri": "http://example.org/trees/{tree}"}}
\t\t},
\t\t{
\t\t\t"name": "planted",
\t\t\t"type": "react",
\t\t\t"argument_graph_pattern": "?tree ex:height ?height .",
\t\t\t"statements": ["INSERT INTO trees (id, height) VALUES (:tree, :height)"]
\t\t}
\t]
}
"""

TOML = '''\
[knowledge_engine]
ke_url = "http://localhost:8280/rest"
max_concurrent_handlers = 4

[knowledge_base]
id = "http://example.org/kb/trees"
name = "trees"
description = "The trees of the city\\tand \\"parks\\" \\u00e9"
error_policy = "empty_binding_set"

[prefixes]
ex = "http://example.org/"

[sources.db]
type = "sql"
url = "sqlite+aiosqlite:///trees.db"

[[knowledge_interactions]]
name = "heights"
type = "answer"
graph_pattern = "?tree ex:height ?height ."
query = """
SELECT id AS tree, height
FROM trees"""
terms = { tree = { iri = "http://example.org/trees/{tree}" } }

[[knowledge_interactions]]
name = "planted"
type = "react"
argument_graph_pattern = "?tree ex:height ?height ."
statements = [
  "INSERT INTO trees (id, height) VALUES (:tree, :height)",
]
'''

TEXTS = {"yaml": YAML, "json": JSON, "toml": TOML}

INTERACTION_KEYS = "name, prefixes, source, permitted, timeout, terms, type, graph_pattern, query"


def write(tmp_path: Path, fmt: str, text: str, name: str = "mapper") -> Path:
    path = tmp_path / f"{name}.{fmt}"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> MapperConfigError:
    with pytest.raises(MapperConfigError) as caught:
        load_config(path)
    return caught.value


# ---------------------------------------------------------------------- the formats


def test_the_three_formats_give_the_same_config(tmp_path: Path) -> None:
    configs = {fmt: load_config(write(tmp_path, fmt, text)) for fmt, text in TEXTS.items()}
    assert configs["yaml"] == configs["json"] == configs["toml"]
    config = configs["yaml"]
    assert config.knowledge_base.description == 'The trees of the city\tand "parks" é'
    heights = config.knowledge_interactions[0]
    assert isinstance(heights, AnswerInteraction)
    assert heights.query == "SELECT id AS tree, height\nFROM trees"
    assert config.knowledge_engine.max_concurrent_handlers == 4


def test_yml_and_upper_case_suffixes_are_read(tmp_path: Path) -> None:
    expected = load_config(write(tmp_path, "yaml", YAML))
    assert load_config(write(tmp_path, "yml", YAML)) == expected
    assert load_config(write(tmp_path, "JSON", JSON)) == expected


def test_a_path_may_be_a_string(tmp_path: Path) -> None:
    path = write(tmp_path, "yaml", YAML)
    assert load_config(str(path)) == load_config(path)


# ---------------------------------------------------------------------- errors: file, line, key

MISTAKES = {
    # name: (replacements per format, expected line per format, key, message)
    "a typo'd key": (
        {"yaml": ("    query: |-", "    qeury: |-"), "json": ('"query":', '"qeury":'),
         "toml": ('query = """', 'qeury = """')},
        {"yaml": 20, "json": 21, "toml": 22},
        "knowledge_interactions[0].qeury",
        f"unknown key 'qeury' (did you mean 'query'?); the keys here are: {INTERACTION_KEYS}",
    ),
    "a missing key": (
        {"yaml": ("  name: trees\n", "\n"), "json": ('\t\t"name": "trees",\n', "\n"),
         "toml": ('name = "trees"\n', "\n")},
        {"yaml": 5, "json": 6, "toml": 5},
        "knowledge_base.name",
        "is required",
    ),
    "a wrong type": (
        {"yaml": ("handlers: 4", "handlers: many"), "json": ("handlers\": 4", 'handlers": "many"'),
         "toml": ("handlers = 4", 'handlers = "many"')},
        {"yaml": 4, "json": 4, "toml": 3},
        "knowledge_engine.max_concurrent_handlers",
        "must be an integer, not 'many'",
    ),
    "a bad literal": (
        {"yaml": ("empty_binding_set", "ignore"), "json": ("empty_binding_set", "ignore"),
         "toml": ("empty_binding_set", "ignore")},
        {"yaml": 9, "json": 10, "toml": 9},
        "knowledge_base.error_policy",
        "must be one of 'empty_binding_set', 'error_message', not 'ignore'",
    ),
    "a bad type of interaction": (
        {"yaml": ("type: react", "type: reakt"), "json": ('"react"', '"reakt"'),
         "toml": ('"react"', '"reakt"')},
        {"yaml": 26, "json": 26, "toml": 29},
        "knowledge_interactions[1].type",
        "must be one of 'answer', 'react', 'ask', 'post', not 'reakt'",
    ),
}  # fmt: skip


@pytest.mark.parametrize("fmt", ["yaml", "json", "toml"])
@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_an_error_names_the_file_the_line_and_the_key(
    tmp_path: Path, fmt: str, mistake: str
) -> None:
    replacements, lines, key, message = MISTAKES[mistake]
    old, new = replacements[fmt]
    assert TEXTS[fmt].count(old) == 1
    path = write(tmp_path, fmt, TEXTS[fmt].replace(old, new))
    error = error_of(path)
    assert str(error) == f"{path}, line {lines[fmt]}: {key}: {message}"
    assert (error.path, error.line, error.key) == (str(path), lines[fmt], key)
    assert isinstance(error, ValueError)  # a ConfigurationError, as km-core's are


def test_the_first_problem_in_the_file_comes_first_and_names_the_others(tmp_path: Path) -> None:
    text = (
        YAML.replace("empty_binding_set", "ignore")
        .replace("    query: |-", "    qeury: |-")
        .replace("handlers: 4", "handlers: many")
        .replace("type: react", "type: reakt")
        .replace("    type: sql", "    type: mysql")
    )
    error = error_of(write(tmp_path, "yaml", text))
    assert error.line == 4
    assert error.key == "knowledge_engine.max_concurrent_handlers"
    assert str(error).endswith(
        "must be an integer, not 'many'; and also at knowledge_base.error_policy (line 9), "
        "sources.db.type (line 14), knowledge_interactions[0].qeury (line 20), and 1 more"
    )


def test_a_mistake_in_a_json_object_on_one_line_names_that_line(tmp_path: Path) -> None:
    path = write(tmp_path, "json", JSON.replace('"type": "sql", ', '"type": "sql", "type2": 1, '))
    error = error_of(path)
    assert (error.line, error.key) == (14, "sources.db.type2")


def test_a_missing_key_of_an_interaction_names_the_line_of_the_interaction(
    tmp_path: Path,
) -> None:
    text = YAML.replace('    argument_graph_pattern: "?tree ex:height ?height ."\n', "")
    error = error_of(write(tmp_path, "yaml", text))
    assert str(error).endswith(
        "line 25: knowledge_interactions[1].argument_graph_pattern: is required"
    )


def test_a_missing_top_level_key_has_no_line(tmp_path: Path) -> None:
    path = write(tmp_path, "yaml", YAML.split("knowledge_interactions:")[0])
    error = error_of(path)
    assert str(error) == f"{path}: knowledge_interactions: is required"
    assert error.line is None


def test_an_unknown_top_level_key_lists_the_keys_of_the_file(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, "toml", "sourse = 'db'\n" + TOML))
    assert error.line == 1
    assert error.key == "sourse"
    assert str(error).endswith(
        "unknown key 'sourse' (did you mean 'source'?); the keys here are: knowledge_engine, "
        "knowledge_base, prefixes, sources, source, knowledge_interactions"
    )


def test_permitted_is_a_star_or_a_list(tmp_path: Path) -> None:
    text = YAML.replace("  error_policy: empty_binding_set", "  permitted: 5")
    error = error_of(write(tmp_path, "yaml", text))
    assert str(error).endswith("line 9: knowledge_base.permitted: must be '*' or a list, not 5")


def test_a_bad_item_of_a_list_is_named_by_its_index(tmp_path: Path) -> None:
    text = YAML.replace("    type: react", "    type: react\n    permitted: [http://x.org/a, 3]")
    error = error_of(write(tmp_path, "yaml", text))
    assert str(error).endswith(
        "line 27: knowledge_interactions[1].permitted[1]: must be a string, not 3"
    )


def test_a_source_of_an_unknown_type(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, "toml", TOML.replace('type = "sql"', 'type = "mysql"')))
    assert str(error).endswith(
        "line 15: sources.db.type: must be one of 'sql', 'sparql', 'python', not 'mysql'"
    )


def test_a_source_without_a_type(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, "json", JSON.replace('"type": "sql", ', "")))
    assert str(error).endswith(
        "line 14: sources.db.type: is required, to say which kind this is: one of 'sql', "
        "'sparql', 'python'"
    )


def test_a_check_across_keys_names_the_mapping_it_is_about(tmp_path: Path) -> None:
    text = YAML.replace(
        "    type: sql\n    url: sqlite+aiosqlite:///trees.db",
        "    type: sparql\n    endpoint: http://localhost:7878/query\n    file: trees.ttl",
    )
    error = error_of(write(tmp_path, "yaml", text))
    assert str(error).endswith(
        "line 13: sources.db: give exactly one of 'endpoint' (a SPARQL server) and 'file'"
    )


def test_a_term_mapping_with_two_kinds_names_its_variable(tmp_path: Path) -> None:
    text = YAML.replace('{iri: "http://example.org/trees/{tree}"}', "{iri: x, datatype: y}")
    error = error_of(write(tmp_path, "yaml", text))
    assert error.line == 24
    assert error.key == "knowledge_interactions[0].terms.tree"


def test_a_key_named_like_the_type_is_still_found(tmp_path: Path) -> None:
    text = YAML.replace("    url: sqlite+aiosqlite", "    sql: 1\n    url: sqlite+aiosqlite")
    error = error_of(write(tmp_path, "yaml", text))
    assert (error.line, error.key) == (15, "sources.db.sql")


def test_a_check_of_the_whole_file_names_no_key(tmp_path: Path) -> None:
    path = write(tmp_path, "yaml", YAML.replace("prefixes:\n", "source: nope\nprefixes:\n"))
    assert str(error_of(path)) == f"{path}: source 'nope' is not among the sources: ['db']"


# ---------------------------------------------------------------------- errors of the file itself


def test_a_file_that_does_not_exist(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    assert str(error_of(path)) == f"{path}: no such file"


def test_a_file_of_an_unknown_format(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, "ini", YAML))
    assert str(error).endswith(
        "cannot tell the format: the file's name must end in .yaml, .yml, .toml or .json"
    )


def test_a_directory_cannot_be_read(tmp_path: Path) -> None:
    directory = tmp_path / "config.yaml"
    directory.mkdir()
    assert str(error_of(directory)).startswith(f"{directory}: cannot read the file: ")


@pytest.mark.parametrize(
    ("fmt", "text", "line", "words"),
    [
        ("yaml", "knowledge_base:\n  id: a\n   name: b\n", 3, "not valid YAML: mapping values"),
        ("yaml", "knowledge_base: !!python/object:os.system x\n", 1, "not valid YAML: could not"),
        ("json", '{\n  "knowledge_base": {},\n}\n', 3, "not valid JSON: "),
        ("toml", '[knowledge_base]\nid = "a\n', 2, "not valid TOML: "),
    ],
)
def test_text_that_does_not_parse_names_the_line(
    tmp_path: Path, fmt: str, text: str, line: int, words: str
) -> None:
    path = write(tmp_path, fmt, text)
    error = error_of(path)
    assert error.line == line
    assert str(error).startswith(f"{path}, line {line}: {words}")


@pytest.mark.parametrize(
    ("fmt", "text", "what"),
    [("yaml", "", "nothing"), ("yaml", "- a\n", "a list"), ("json", '"a"', "a str")],
)
def test_a_file_that_is_not_a_mapping(tmp_path: Path, fmt: str, text: str, what: str) -> None:
    path = write(tmp_path, fmt, text)
    assert str(error_of(path)) == (
        f"{path}: the file holds {what}; a config file is a mapping with the keys "
        "knowledge_base, sources and knowledge_interactions"
    )


@pytest.mark.parametrize(
    ("fmt", "old", "new", "lines"),
    [
        ("yaml", "  error_policy", "  name: again\n  error_policy", (7, 9)),
        ("json", '\t\t"error_policy"', '\t\t"name": "again",\n\t\t"error_policy"', (8, 10)),
    ],
)
def test_a_key_given_twice_is_an_error(
    tmp_path: Path, fmt: str, old: str, new: str, lines: tuple[int, int]
) -> None:
    path = write(tmp_path, fmt, TEXTS[fmt].replace(old, new))
    first, again = lines
    assert str(error_of(path)) == (
        f"{path}, line {again}: knowledge_base.name: given twice, on lines {first} and {again}; "
        "the second would replace the first: keep one"
    )


def test_yaml_anchors_and_merge_keys_are_read(tmp_path: Path) -> None:
    text = YAML.replace("prefixes:\n  ex:", "prefixes: &prefixes\n  ex:").replace(
        "    type: react\n", "    type: react\n    prefixes: *prefixes\n"
    )
    config = load_config(write(tmp_path, "yaml", text))
    assert config.knowledge_interactions[1].prefixes == {"ex": "http://example.org/"}


# ---------------------------------------------------------------------- the locators


def test_pyyaml_does_not_read_every_json_file() -> None:
    """Why JSON has a position pass of its own instead of PyYAML's composer."""
    with pytest.raises(yaml.YAMLError, match="cannot start any token"):
        yaml.compose('{\n\t"a": 1\n}', Loader=yaml.SafeLoader)
    assert yaml.safe_load('{"a": 1e5}') == {"a": "1e5"}  # a number in JSON
    assert json.loads('{"a": 1e5}') == {"a": 100000.0}


def test_the_json_pass_reads_escapes_nesting_and_crlf() -> None:
    text = (
        '{"a\\u00e9": {"b": "x\\"}{[", "c": [1, -2.5e3,\r\n'
        '  {"d": null}, [true, false]]},\r\n'
        ' "e\\\\": "\\t"\r\n}'
    )
    assert json.loads(text)  # valid JSON
    locate = json_locator(text)
    assert locate(("aé",)) == 1
    assert locate(("aé", "c", 2, "d")) == 2
    assert locate(("aé", "c", 3, 0)) == 2
    assert locate(("e\\",)) == 3
    assert locate(("aé", "c", 9)) == 1  # no such item: the line of the list
    assert locate(("nope",)) is None


def test_the_toml_scan_counts_arrays_of_tables_and_skips_multi_line_strings() -> None:
    text = textwrap.dedent(
        '''\
        title = "x"
        [[items]]
        name = "a"
        query = """
        [fake]
        name = 'inside the string'
        """
        [items.terms]
        tree = { iri = "y" }
        [[items]]
        "quoted key" = 1
        dotted.inner = 2
        [tables . 'b.c']
        d = 3
        '''
    )
    locate = toml_locator(text)
    assert locate(("title",)) == 1
    assert locate(("items", 0, "name")) == 3
    assert locate(("items", 0, "query")) == 4
    assert locate(("fake",)) is None
    assert locate(("items", 0, "terms", "tree", "iri")) == 9
    assert locate(("items", 1)) == 10
    assert locate(("items", 1, "quoted key")) == 11
    assert locate(("items", 1, "dotted", "inner")) == 12
    assert locate(("items", 1, "missing")) == 10
    assert locate(("tables", "b.c", "d")) == 14


# ---------------------------------------------------------------------- relative paths

SPARQL_FILE = """\
knowledge_base: {id: "http://example.org/kb/trees", name: trees}
sources:
  store: {type: sparql, file: data/trees.ttl}
  db: {type: sql, url: "sqlite+aiosqlite:///data/trees.db?timeout=5"}
  absolute: {type: sparql, file: /srv/trees.ttl}
  remote: {type: sql, url: "postgresql+asyncpg://trees@127.0.0.1:5432/trees"}
source: store
knowledge_interactions: []
"""


def test_relative_paths_are_read_against_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "elsewhere").mkdir()
    write(tmp_path / "conf", "yaml", SPARQL_FILE)
    monkeypatch.chdir(tmp_path / "elsewhere")
    config = load_config(Path("..") / "conf" / "mapper.yaml")
    store, db, absolute, remote = config.sources.values()
    directory = (tmp_path / "conf").resolve()
    assert isinstance(store, SparqlSource)
    assert store.file == directory / "data" / "trees.ttl"
    assert isinstance(db, SqlSource)
    assert db.url == f"sqlite+aiosqlite:///{directory.as_posix()}/data/trees.db?timeout=5"
    assert isinstance(absolute, SparqlSource)
    assert absolute.file == Path("/srv/trees.ttl")
    assert isinstance(remote, SqlSource)
    assert remote.url == "postgresql+asyncpg://trees@127.0.0.1:5432/trees"
    assert isinstance(config, MapperConfig)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite+aiosqlite:///trees.db", "sqlite+aiosqlite:////base/trees.db"),
        ("sqlite:///sub/trees.db?mode=ro", "sqlite:////base/sub/trees.db?mode=ro"),
        ("sqlite+aiosqlite:////abs/trees.db", None),
        ("sqlite+aiosqlite://", None),
        ("sqlite+aiosqlite:///:memory:", None),
        ("sqlite+aiosqlite:///file:trees.db?uri=true", None),
        ("mysql+aiomysql://trees@db:3306/trees", None),
        ("not a url", None),
    ],
)
def test_which_sqlite_urls_are_resolved(url: str, expected: str | None) -> None:
    assert sqlite_url_resolved(url, Path("/base")) == (expected or url)
