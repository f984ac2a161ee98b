"""The differential tool (``differential/``): two identical engines agree, and real differences
show.

The tool plays REST scenarios against two Knowledge Engines and compares what each returned,
normalised. Run against two local engines served over loopback, every quick scenario must come
out identical: that keeps the scenarios and the harness from rotting. The unit tests hold the
normaliser and the comparison to what they promise: ids, timestamps, UUIDs and the order of
sets never make a difference, while a changed status, ``[]`` against ``[{}]``, a missing
entry or ``1`` against ``1.0`` always do.
"""

from __future__ import annotations

import pytest

from differential.compare import (
    ABSENT,
    Difference,
    Outcome,
    SideRun,
    compare,
    normalise,
    normalised_record,
    outcome,
)
from differential.recorder import Entry
from differential.report import Engine, json_report, markdown, summary_line
from differential.run import main, run_scenarios, run_side
from differential.scenario import Scenario, select
from differential.scenarios import ALL
from km_testing import LocalKnowledgeEngine, create_app
from tests.testing.serving import serving

TAG_A = "a1b2c3d4e5"
TAG_B = "f6a7b8c9d0"


def exchange(tag: str, uuid: str, when: str, status: str = "SUCCEEDED") -> dict[str, object]:
    """One exchange info element, as an engine would return it for run ``tag``."""
    return {
        "knowledgeBaseId": f"http://example.org/kb/{tag}/ans",
        "knowledgeInteractionId": f"http://example.org/kb/{tag}/ans/interaction/{uuid}",
        "exchangeStart": when,
        "exchangeEnd": when,
        "status": status,
        "bindingSet": [{"t": f"<http://example.org/{tag}/oak>"}],
    }


def ask_reply(tag: str, bindings: list[dict[str, str]], exchanges: list[object]) -> object:
    return {"status": 200, "body": {"bindingSet": bindings, "exchangeInfo": exchanges}}


def side(tag: str, *entries: Entry, error: str | None = None) -> SideRun:
    return SideRun("http://ke.test/rest", tag, entries, error, 0.1)


def test_normalise_replaces_the_tag_timestamps_and_uuids() -> None:
    value = {
        "id": f"http://example.org/kb/{TAG_A}/x/interaction/0b7e9f2c-3f5a-4c1e-9d2b-8a6f1e2d3c4b",
        "at": "2024-05-01T12:34:56.789Z",
        "message": "... waiting for response to message: 0B7E9F2C-3F5A-4C1E-9D2B-8A6F1E2D3C4B",
    }
    assert normalise(value, TAG_A) == {
        "at": "<ts>",
        "id": "http://example.org/kb/TAG/x/interaction/<uuid>",
        "message": "... waiting for response to message: <uuid>",
    }


def test_sets_are_sorted_and_other_lists_keep_their_order() -> None:
    value = {
        "bindingSet": [{"t": "b"}, {"t": "a"}],
        "knowledgeGaps": [["?b", "?a"]],
        "deliveries": [[2, "b"], [1, "a"]],
    }
    assert normalise(value, TAG_A) == {
        "bindingSet": [{"t": "a"}, {"t": "b"}],
        "deliveries": [[2, "b"], [1, "a"]],
        "knowledgeGaps": [["?a", "?b"]],
    }


def test_ids_timestamps_uuids_and_set_order_make_no_difference() -> None:
    oak_a, elm_a = f"<http://example.org/{TAG_A}/oak>", f"<http://example.org/{TAG_A}/elm>"
    oak_b, elm_b = f"<http://example.org/{TAG_B}/oak>", f"<http://example.org/{TAG_B}/elm>"
    a = [
        Entry("ans received", {"bindingSet": [{}], "handleRequestId": 1}),
        Entry("POST /sc/ask", ask_reply(TAG_A, [{"t": oak_a}, {"t": elm_a}], [
            exchange(TAG_A, "11111111-2222-3333-4444-555555555555", "2024-05-01T12:00:00Z"),
            exchange(TAG_A, "66666666-7777-8888-9999-000000000000", "2024-05-01T12:00:01Z"),
        ])),
    ]  # fmt: skip
    b = [
        Entry("POST /sc/ask", ask_reply(TAG_B, [{"t": elm_b}, {"t": oak_b}], [
            exchange(TAG_B, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "2025-01-01T00:00:00.5+01:00"),
            exchange(TAG_B, "ffffffff-0000-1111-2222-333333333333", "2025-01-01T00:00:09+01:00"),
        ])),
        Entry("ans received", {"handleRequestId": 1, "bindingSet": [{}]}),
    ]  # fmt: skip
    assert compare(normalised_record(a, TAG_A), normalised_record(b, TAG_B)) == []


def test_an_empty_binding_set_differs_from_one_empty_binding() -> None:
    a = normalised_record([Entry("ans received", {"bindingSet": []})], TAG_A)
    b = normalised_record([Entry("ans received", {"bindingSet": [{}]})], TAG_B)
    assert compare(a, b) == [Difference("ans received", ".bindingSet", [], [{}])]


def test_a_changed_status_is_a_difference() -> None:
    message = {"messageType": "error", "message": "Knowledge base not found."}
    a = normalised_record([Entry("GET /sc", {"status": 404, "body": message})], TAG_A)
    b = normalised_record([Entry("GET /sc", {"status": 400, "body": message})], TAG_B)
    assert compare(a, b) == [Difference("GET /sc", ".status", 404, 400)]


def test_an_entry_or_key_one_side_lacks_is_a_difference() -> None:
    a = normalised_record([Entry("x", {"prefixes": {}}), Entry("only a", 1)], TAG_A)
    b = normalised_record([Entry("x", {})], TAG_B)
    assert compare(a, b) == [
        Difference("x", ".prefixes", {}, ABSENT),
        Difference("only a", "", 1, ABSENT),
    ]


def test_numbers_and_booleans_are_told_apart() -> None:
    a = normalised_record([Entry("n", {"v": [1, True]})], TAG_A)
    b = normalised_record([Entry("n", {"v": [1.0, 1]})], TAG_B)
    assert compare(a, b) == [Difference("n", ".v[0]", 1, 1.0), Difference("n", ".v[1]", True, 1)]


def test_entries_with_one_label_compare_as_a_multiset() -> None:
    a = normalised_record([Entry("r", {"k": 1}), Entry("r", {"k": 2})], TAG_A)
    assert compare(a, normalised_record([Entry("r", {"k": 2}), Entry("r", {"k": 1})], TAG_B)) == []
    fewer = normalised_record([Entry("r", {"k": 1})], TAG_B)
    assert compare(a, fewer) == [Difference("r #2", "", {"k": 2}, ABSENT)]


def test_uncompared_entries_make_no_difference_but_are_reported() -> None:
    a = side(TAG_A, Entry("took (s)", 30.0, compared=False))
    b = side(TAG_B, Entry("took (s)", 37.2, compared=False))
    result = outcome("leases/x", "A lease.", True, a, b)
    assert result.status == "identical"
    engines = Engine("real", "http://real/rest"), Engine("local", "http://local/rest")
    assert markdown([result], *engines, started="now", seconds=1).count("took (s)") == 0
    different = outcome("g/y", "Y.", False, side(TAG_A, Entry("e", 1)), b)
    text = markdown([result, different], *engines, started="now", seconds=1)
    assert "**2 scenarios, 1 identical, 1 different**" in text
    assert '| `"e"` |  | `1` | `"<absent>"` |' in text
    assert "- local: took (s): `37.2`" in text


def test_a_side_that_fails_fails_the_scenario() -> None:
    failed = outcome("g/z", "Z.", False, side(TAG_A, error="ValueError: boom"), side(TAG_B))
    assert failed.status == "failed"
    assert summary_line([failed]) == "1 scenarios, 0 identical, 0 different, 1 failed"
    report = json_report([failed], Engine("a", "u"), Engine("b", "v"), started="s", seconds=1)
    assert report["summary"] == {"scenarios": 1, "identical": 0, "different": 0, "failed": 1}


async def test_a_scenario_that_raises_is_recorded_as_failed() -> None:
    async def broken(rec: object) -> None:
        raise ValueError("boom")

    item = Scenario("broken", "g", broken, "Broken.", slow=False, timeout=5)
    run = await run_side(item, "http://127.0.0.1:9/rest")  # no request is made
    assert run.error == "ValueError: boom"


def test_selection_by_pattern_and_quick() -> None:
    quick = select(ALL, quick=True)
    assert quick
    assert all(not item.slow for item in quick)
    assert any(item.slow for item in ALL)
    leases = select(ALL, ["leases/*"])
    assert {item.group for item in leases} == {"leases"}
    assert [item.name for item in select(ALL, ["second_poll"])] == ["second_poll_409"]
    names = [item.qualified_name for item in ALL]
    assert len(names) == len(set(names))
    assert all(item.description for item in ALL)


def test_the_command_line_lists_the_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "lifecycle/version" in out
    assert "leases/lease_expiry" not in out


# Some 95 scenarios, each twice: over a minute on a busy two-CPU machine.
@pytest.mark.timeout(240)
async def test_two_local_engines_agree_on_every_quick_scenario() -> None:
    scenarios = select(ALL, quick=True)
    async with (
        serving(create_app(LocalKnowledgeEngine())) as a,
        serving(create_app(LocalKnowledgeEngine())) as b,
    ):
        outcomes: list[Outcome] = await run_scenarios(scenarios, a, b)
    disagreeing = {
        item.name: (item.a.error, item.b.error, item.differences[:3])
        for item in outcomes
        if item.status != "identical"
    }
    assert disagreeing == {}
    assert [item.name for item in outcomes if not item.a.record] == []  # each recorded something
    assert (
        summary_line(outcomes)
        == f"{len(scenarios)} scenarios, {len(scenarios)} identical, 0 different"
    )
