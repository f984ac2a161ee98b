"""A REACT with a result pattern used as a converter inside an ASK, on any KE.

The KE's reasoner example (examples/reasoner): the asker wants measurements in celsius, one KB
answers them in fahrenheit, and another reacts to fahrenheit with celsius. From reasoner level
2 the KE asks the ANSWER first, posts its answer to the REACT (in the REACT's variable names),
and joins the two; the REACT's exchange is not listed in the ask's exchange info. At level 1
nobody is contacted.

Run against the served local engine always, and against the KE at ``KM_TEST_KE_URL`` when it
is set (see test_contract_any_ke.py). Each test has KB ids and IRIs of its own (`Network`),
registers the asking KB at the reasoner level under test, and deletes its KBs afterwards.
"""

from __future__ import annotations

import pytest

from km_core import ExchangeStatus, HandleRequest, KnowledgeInteractionType
from tests.conformance.rest import (
    Network,
    Served,
    integer,
    nothing,
    ordered,
    proactive,
    register_at_level,
    rows_within,
)

pytestmark = pytest.mark.ke

REACT = KnowledgeInteractionType.REACT
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
DECIMAL = "<http://www.w3.org/2001/XMLSchema#decimal>"


def celsius(fahrenheit: str) -> str:
    """``"68"^^xsd:integer`` (as the KE sends it) in celsius, as an xsd:decimal."""
    value = float(fahrenheit[1 : fahrenheit.rindex('"')])
    return f'"{(value - 32) / 1.8:g}"^^{DECIMAL}'


def convert(request: HandleRequest) -> list[dict[str, str]]:
    """The converting REACT: each ``?m``'s ``?fahrenheit`` as ``?celsius``."""
    return [{"m": b["m"], "celsius": celsius(b["fahrenheit"])} for b in request.binding_set]


class Units:
    """The example's KBs: ``kb2`` answers fahrenheit, ``kb3`` converts, ``kb1`` asks celsius."""

    def __init__(self, net: Network) -> None:
        self.net = net
        self.measurement = f"{RDF_TYPE} {net.iri('Measurement')}"
        self.fahrenheit = net.iri("hasValueInFahrenheit")
        self.celsius = net.iri("hasValueInCelsius")
        self.m1, self.m2 = net.iri("m1"), net.iri("m2")
        self.rows = [{"m": self.m1, "fahrenheit": "68"}, {"m": self.m2, "fahrenheit": "212"}]
        self.answerer, self.converter = net.kb_id("kb2"), net.kb_id("kb3")

    async def register(self, level: int) -> tuple[str, str]:
        """Register the three KBs; the asker's id and its ASK interaction's id."""
        net = self.net
        argument = f"?m {self.measurement} . ?m {self.fahrenheit} ?fahrenheit ."
        await net.answerer("kb2", argument)
        await net.with_ki(
            "kb3", proactive(REACT, "react", argument, f"?m {self.celsius} ?celsius .")
        )
        asker = await register_at_level(net, "kb1", level)
        ask_id = await net.asker("kb1", f"?m {self.measurement} . ?m {self.celsius} ?celsius .")
        return asker, ask_id


@pytest.mark.parametrize(
    "level",
    [pytest.param(1, id="level1"), pytest.param(2, id="level2"), pytest.param(5, id="level5")],
)
async def test_a_react_converts_what_an_answer_gives_inside_an_ask(
    net: Network, level: int
) -> None:
    """Restates examples/reasoner: ASK celsius <- REACT fahrenheit to celsius <- ANSWER."""
    units = Units(net)
    asker, ask_id = await units.register(level)
    respond = {units.answerer: rows_within(units.rows), units.converter: convert}
    async with Served(net.client, respond) as served:
        result = await served.run(net.client.ask(asker, ask_id, []))
    if level == 1:
        assert served.received == {units.answerer: [], units.converter: []}
        assert result.binding_set == []
        assert result.exchange_info == []
        return
    answered = [
        {"m": units.m1, "fahrenheit": integer(68)},
        {"m": units.m2, "fahrenheit": integer(212)},
    ]
    assert served.bindings(units.answerer) == [[{}]]
    assert served.bindings(units.converter) == [ordered(answered)]  # what kb2 answered
    assert served.received[units.converter][0].requesting_knowledge_base_id == asker
    assert ordered(result.binding_set) == ordered(
        [
            {"m": units.m1, "celsius": f'"20"^^{DECIMAL}'},
            {"m": units.m2, "celsius": f'"100"^^{DECIMAL}'},
        ]
    )
    [info] = result.exchange_info  # the ANSWER only: the REACT's exchange is not listed
    assert info.knowledge_base_id == units.answerer
    assert info.status is ExchangeStatus.SUCCEEDED
    assert ordered(info.binding_set) == ordered(answered)


async def test_the_converter_gets_only_what_the_answer_gave_for_the_ask_binding(
    net: Network,
) -> None:
    """Restates examples/reasoner with an ask binding for ``?m``, at reasoner level 2."""
    units = Units(net)
    asker, ask_id = await units.register(2)
    respond = {units.answerer: rows_within(units.rows), units.converter: convert}
    async with Served(net.client, respond) as served:
        result = await served.run(net.client.ask(asker, ask_id, [{"m": units.m1}]))
    assert served.bindings(units.answerer) == [[{"m": units.m1}]]
    assert served.bindings(units.converter) == [[{"m": units.m1, "fahrenheit": integer(68)}]]
    assert result.binding_set == [{"m": units.m1, "celsius": f'"20"^^{DECIMAL}'}]
    assert [info.knowledge_base_id for info in result.exchange_info] == [units.answerer]


async def test_a_converter_without_anything_to_convert_is_not_contacted(net: Network) -> None:
    """Restates examples/reasoner without kb2 (no fahrenheit to convert), at reasoner level 2."""
    units = Units(net)
    argument = f"?m {units.measurement} . ?m {units.fahrenheit} ?fahrenheit ."
    await net.with_ki("kb3", proactive(REACT, "react", argument, f"?m {units.celsius} ?celsius ."))
    asker = await register_at_level(net, "kb1", 2)
    ask_id = await net.asker("kb1", f"?m {units.measurement} . ?m {units.celsius} ?celsius .")
    async with Served(net.client, {units.converter: nothing}) as served:
        result = await served.run(net.client.ask(asker, ask_id, []))
    assert served.received[units.converter] == []
    assert result.binding_set == []
    assert result.exchange_info == []
