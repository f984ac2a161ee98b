"""Meta knowledge interactions: includeMetaKIs, metadata asks, and notifications to REACTs.

Restates TestAskAnswerIncludeMetaKIs, TestAskPartialMetadata, TestRequestMetadata and
TestReactMetadata.
"""

from __future__ import annotations

import asyncio

from differential.recorder import Json, Recorder
from differential.scenario import scenario
from differential.scenarios.common import ASK, POST
from differential.scenarios.reasoning_common import (
    KE,
    LEVELS,
    META,
    RDF_TYPE,
    at_level,
    exchange,
    in_list,
    kb,
    ki,
    react,
)

# ------------------------------------------------------------------ meta knowledge interactions


@scenario()
async def include_meta_kis_at_levels(rec: Recorder) -> None:
    """TestAskAnswerIncludeMetaKIs at levels 1, 2, 5: only includeMetaKIs finds other KBs."""
    pattern = f"?kb {RDF_TYPE} <{KE}KnowledgeBase> ."
    for level in LEVELS:
        c = at_level(rec, level)
        others = [await c.kb("other"), await c.kb("other2")]
        asking = await c.kb("asker", level)
        for name, include in (("included", True), ("default", None), ("excluded", False)):
            extra: dict[str, Json] = {} if include is None else {"includeMetaKIs": include}
            ask_id = await ki(rec, asking, ASK, name, graphPattern=pattern, **extra)
            await c.exchange(f"ask {name}", "/sc/ask", asking, ask_id, in_list(others, []))
            if include:
                itself = in_list([asking], [])
                await c.exchange(f"ask {name} of itself", "/sc/ask", asking, ask_id, itself)


@scenario()
async def partial_metadata_by_name(rec: Recorder) -> None:
    """TestAskPartialMetadata at levels 1, 2, 5: a KB found by its name."""
    for level in LEVELS:
        c = at_level(rec, level)
        kb1_name = f"{c.kb_name('kb1')}-{rec.tag}"
        kb1 = await c.kb("kb1", knowledgeBaseName=kb1_name)
        kb3 = await c.kb("kb3", knowledgeBaseName=f"{c.kb_name('kb3')}-{rec.tag}")
        asking = await c.kb("asker", level)
        pattern = f'?x {RDF_TYPE} <{KE}KnowledgeBase> . ?x <{KE}hasName> "{kb1_name}" .'
        ask_id = await ki(rec, asking, ASK, "partial", graphPattern=pattern, includeMetaKIs=True)
        await c.exchange("ask", "/sc/ask", asking, ask_id, in_list([kb1, kb3], []))


@scenario()
async def whole_metadata_of_a_kb(rec: Recorder) -> None:
    """TestRequestMetadata: the meta pattern of a KB with a POST (four POSTs described)."""
    measurement = "<https://saref.etsi.org/core/Measurement>"
    kb1 = await kb(rec, "kb1")
    argument = f"?obs {RDF_TYPE} {measurement} . ?obs {rec.iri('hasTemp')} ?temp ."
    await ki(rec, kb1, POST, "measurements", argumentGraphPattern=argument)
    asking = await kb(rec, "asker", 2)
    ask_id = await ki(rec, asking, ASK, "metadata", graphPattern=META, includeMetaKIs=True)
    await exchange(rec, "ask", "/sc/ask", asking, ask_id, in_list([kb1], []))


@scenario()
async def meta_react_hears_changes(rec: Recorder) -> None:
    """TestReactMetadata: a REACT on the meta pattern, while another KB comes and goes.

    Only the requests the newcomer's changes cause are recorded (a shared KE has other KBs),
    each as the interactions it describes.
    """
    watcher = await kb(rec, "watcher")
    await react(rec, watcher, META)
    newcomer = rec.kb_id("newcomer")
    heard = asyncio.Queue[set[str]]()

    async def watch() -> None:
        for _ in range(200):
            reply = await rec.poll(watcher)
            if reply.status == 202:
                continue
            if reply.status != 200 or not isinstance(reply.body, dict):
                rec.note("watcher: poll", reply.record())
                return
            request = reply.body
            await rec.request(
                None,
                "POST",
                "/sc/handle",
                kb=watcher,
                ki=request.get("knowledgeInteractionId"),
                json={"handleRequestId": request.get("handleRequestId"), "bindingSet": []},
            )
            if request.get("requestingKnowledgeBaseId") == newcomer:
                bindings = request.get("bindingSet") or []
                await heard.put({str(b.get("ki")) for b in bindings})

    async def change(label: str, method: str, path: str, **args: Json) -> None:
        await rec.request(label, method, path, kb=newcomer, **args)
        try:
            described = await asyncio.wait_for(heard.get(), 10)
        except TimeoutError:
            rec.note(f"{label}: the watcher heard", "<nothing within 10 s>")
            return
        rec.note(f"{label}: the watcher heard", sorted(described))

    async def story() -> None:
        body = {"knowledgeBaseId": newcomer, "knowledgeBaseName": "newcomer"}
        body["knowledgeBaseDescription"] = "the newcomer kb"
        await change("register newcomer", "POST", "/sc", json=body)
        rec.kbs.add(newcomer)
        argument = f"?obs {RDF_TYPE} <https://saref.etsi.org/core/Measurement> ."
        post = {
            "knowledgeInteractionType": POST,
            "knowledgeInteractionName": "measurements",
            "argumentGraphPattern": argument,
        }
        await change("add a POST", "POST", "/sc/ki", json=post)
        await change(
            "remove the POST", "DELETE", "/sc/ki", ki=f"{newcomer}/interaction/measurements"
        )
        await change("delete newcomer", "DELETE", "/sc")

    await rec.concurrently(story, [watch()], grace=0)
