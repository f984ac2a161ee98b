"""The legacy SPARQL example, with its permitted lists, converted and run on Fuseki.

``tests/mapper/data/legacy-sparql-trees.jsonc`` (a knowledge-mapper 0.0.24 file: a SPARQL
endpoint with basic-auth credentials from the environment, static authorization, an ANSWER for
two knowledge bases and a REACT for everybody) is pointed at the test's Fuseki dataset,
converted, written as YAML and served by ``km run`` on a local Knowledge Engine (served over
HTTP on 127.0.0.1, in this process). A knowledge base on the ANSWER's permitted list gets the
store's trees; one that is not gets nothing, but may post new trees, which the REACT writes to
the store.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
import yaml

from km_core import ExchangeStatus, KnowledgeBase
from km_httpx import HttpxClient
from km_mapper._config import load_config
from km_mapper._legacy import convert_legacy, dump_config
from km_testing import create_app
from tests.mapper.running import ServedProcess, WatchedEngine, km_run
from tests.mapper.servers import SparqlDataset
from tests.testing.serving import serving

EXAMPLE = Path(__file__).parent / "data" / "legacy-sparql-trees.jsonc"
EXAMPLE_ENDPOINT = "http://triple-store:7878"

STORE_ID = "https://example.org/kb/tree-store"
PRINTER_ID = "https://example.org/kb/tree-printer"
FORESTER_ID = "https://example.org/kb/forester"
STRANGER_ID = "https://example.org/kb/stranger"

EX = {"ex": "https://example.org/"}
PATTERN = "?tree ex:hasHeight ?height . ?tree ex:hasName ?name ."
XSD = "http://www.w3.org/2001/XMLSchema#"
CREDENTIALS = {"TREE_STORE_USER": "trees", "TREE_STORE_PASSWORD": "not-checked-by-fuseki"}


def tree(name: str, height: str, datatype: str) -> dict[str, str]:
    """A tree as the store's answers give it: an IRI, a typed height, a plain name."""
    iri = f"<https://example.org/trees/{name}>"
    return {"tree": iri, "height": f'"{height}"^^<{XSD}{datatype}>', "name": f'"{name}"'}


OAK, BEECH, ELM = (
    tree("oak", "21", "integer"),
    tree("beech", "30.5", "decimal"),
    tree("elm", "12", "integer"),
)

WAIT = 20.0
"""Seconds any one ask or post may take."""


def as_set(bindings: list[dict[str, str]]) -> set[frozenset[tuple[str, str]]]:
    """Bindings as a set, to compare answers whatever their order."""
    return {frozenset(b.items()) for b in bindings}


def converted(dataset: SparqlDataset, directory: Path) -> Path:
    """The example, pointed at the dataset, converted and written as YAML; the written file is
    checked to keep the permitted lists."""
    text = EXAMPLE.read_text(encoding="utf-8")
    assert f'"endpoint": "{EXAMPLE_ENDPOINT}"' in text
    legacy = directory / "legacy.jsonc"
    legacy.write_text(text.replace(EXAMPLE_ENDPOINT, dataset.url), encoding="utf-8")
    config, notes = convert_legacy(legacy)
    assert (
        "authorization: the legacy let nobody use an interaction without a permitted list; "
        "knowledge_base.permitted: [] keeps that, and each interaction keeps its own list"
    ) in notes
    path = directory / "mapper.yaml"
    path.write_text(dump_config(config), encoding="utf-8")

    written = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert written["knowledge_base"]["permitted"] == []
    assert written["sources"]["legacy"] == {
        "type": "sparql",
        "endpoint": f"{dataset.url}/query",
        "update_endpoint": dataset.url,
        "username_env": "TREE_STORE_USER",
        "password_env": "TREE_STORE_PASSWORD",
    }
    permitted = {ki["name"]: ki.get("permitted") for ki in written["knowledge_interactions"]}
    assert permitted == {
        "tree-heights-and-names": [PRINTER_ID, FORESTER_ID],
        "new-trees": "*",
        "ask-1": None,
    }
    loaded = load_config(path)
    assert loaded.knowledge_base.permitted == []
    assert [getattr(ki, "permitted", None) for ki in loaded.knowledge_interactions] == [
        [PRINTER_ID, FORESTER_ID],
        "*",
        None,
    ]
    return path


def asker(kb_id: str, url: str) -> KnowledgeBase:
    kb = KnowledgeBase(
        id=kb_id, name=kb_id.rsplit("/", 1)[-1], description="asks", client=HttpxClient(url)
    )
    kb.ask_ki("trees", PATTERN, prefixes=EX)
    kb.post_ki("plant", PATTERN, prefixes=EX)
    return kb


async def ask(
    kb: KnowledgeBase, bindings: list[dict[str, str]] | None = None
) -> list[dict[str, str]]:
    """``kb`` asks the store alone; the store must have answered (empty or not)."""
    response = await asyncio.wait_for(
        kb.ask_with_info("trees", bindings, recipients=[STORE_ID]), WAIT
    )
    [info] = response.exchange_info
    assert (info.knowledge_base_id, info.status) == (STORE_ID, ExchangeStatus.SUCCEEDED), info
    assert len(as_set(response.binding_set)) == len(response.binding_set)
    return response.binding_set


@pytest.mark.timeout(120)
async def test_the_sparql_example_converts_and_serves_only_the_permitted(
    fuseki_dataset: SparqlDataset, tmp_path: Path
) -> None:
    config = converted(fuseki_dataset, tmp_path)
    await fuseki_dataset.update(
        "PREFIX ex: <https://example.org/> PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>\n"
        "INSERT DATA {\n"
        '  <https://example.org/trees/oak> ex:hasHeight 21 ; ex:hasName "oak" .\n'
        '  <https://example.org/trees/beech> ex:hasHeight 30.5 ; ex:hasName "beech" .\n'
        "  <https://example.org/trees/willow> ex:hasHeight 9 .\n"
        "}"
    )

    engine = WatchedEngine()
    async with serving(create_app(engine)) as url:
        printer, stranger = asker(PRINTER_ID, url), asker(STRANGER_ID, url)
        process: ServedProcess | None = None
        try:
            async with contextlib.AsyncExitStack() as stack:
                for kb in (printer, stranger):  # connected and registered, until the block ends
                    await asyncio.wait_for(stack.enter_async_context(kb), WAIT)
                process = await km_run(config, url, env=CREDENTIALS)
                await served(process, engine, printer, stranger, fuseki_dataset)
        finally:
            if process is not None:
                await process.stop()
                print(f"---------- {process.name}:\n{process.output()}")  # shown on failure
            for kb in (printer, stranger):
                await kb.close()


async def served(
    process: ServedProcess,
    engine: WatchedEngine,
    printer: KnowledgeBase,
    stranger: KnowledgeBase,
    dataset: SparqlDataset,
) -> None:
    """What the permitted and the other knowledge base get from the served example."""
    await process.ready(engine, STORE_ID)

    # On the permitted list: every tree with a height and a name; or the one asked for.
    assert as_set(await ask(printer)) == as_set([OAK, BEECH])
    assert as_set(await ask(printer, [{"tree": BEECH["tree"]}])) == as_set([BEECH])
    assert as_set(await ask(printer, [{"height": f'"21"^^<{XSD}integer>'}])) == as_set([OAK])
    # Not on it: nothing, whatever it asks.
    assert await ask(stranger) == []
    assert await ask(stranger, [{"tree": OAK["tree"]}]) == []

    # Everybody may post new trees (permitted "*"): the REACT writes them to Fuseki.
    response = await asyncio.wait_for(
        stranger.post_with_info("plant", [ELM], recipients=[STORE_ID]), WAIT
    )
    [info] = response.exchange_info
    assert (info.knowledge_base_id, info.status) == (STORE_ID, ExchangeStatus.SUCCEEDED)
    stored = await dataset.select(
        "SELECT ?name WHERE { <https://example.org/trees/elm> <https://example.org/hasName> ?name }"
    )
    assert stored == [{"name": "elm"}]
    assert as_set(await ask(printer)) == as_set([OAK, BEECH, ELM])
    assert await ask(stranger) == []

    status = await process.stop()
    assert status == 0, process.output()
    assert engine.registered() == {PRINTER_ID, STRANGER_ID}
