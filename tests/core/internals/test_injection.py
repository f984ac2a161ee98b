"""Tests of `km_core._inject`: the `Injection` a call injects from, and the `Handler` wrapper.

A `Handler` is called with the binding set and one `Injection`; everything it injects comes from
that object: the context value, the overrides, and the runner for sync code.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import pytest

from km_core import IRI, BindingModel, BindingSet, Depends
from km_core._inject import ContextValue, Dependant, Handler, Injection, run_in_default_thread
from tests.support import OAK


@dataclasses.dataclass(frozen=True)
class Caller(ContextValue):
    """A context value, as `RequestContext` is one."""

    who: str


class Tree(BindingModel):
    tree: IRI


class RecordingRunner:
    """A `RunSync` that records what it runs, and runs it in a worker thread."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.threads: list[int] = []

    async def __call__(self, call: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(getattr(call, "__name__", type(call).__name__))

        def run() -> Any:
            self.threads.append(threading.get_ident())
            return call(*args, **kwargs)

        return await run_in_default_thread(run)


def injection(
    context: object = None,
    overrides: dict[Callable[..., Any], Callable[..., Any]] | None = None,
    overridden: dict[Callable[..., Any], Dependant] | None = None,
    run_sync: Any = run_in_default_thread,
) -> Injection:
    return Injection(context, overrides or {}, {} if overridden is None else overridden, run_sync)


def handler(function: Callable[..., Any], scope: dict[str, Any] | None = None) -> Handler:
    """Wrap ``function``; ``scope``: the names its annotations use that the module lacks."""
    return Handler(function, ki_name="heights", input_model=None, scope=scope)


def test_an_injection_is_frozen() -> None:
    made = injection(Caller("x"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.context = Caller("y")  # type: ignore[misc]


async def test_a_handler_without_parameters_gets_the_bindings_only() -> None:
    received: list[BindingSet] = []

    async def heights(binding_set: BindingSet) -> BindingSet:
        received.append(binding_set)
        return [{"tree": OAK}]

    wrapped = handler(heights)
    assert wrapped.parameters == []
    assert wrapped.is_async
    assert await wrapped([{"tree": OAK}], injection()) == [{"tree": OAK}]
    assert received == [[{"tree": OAK}]]


async def test_a_context_value_parameter_receives_the_context_of_the_injection() -> None:
    seen: list[Caller] = []

    async def factory(caller: Caller) -> str:
        return f"for {caller.who}"

    async def heights(
        binding_set: BindingSet, caller: Caller, note: Annotated[str, Depends(factory)]
    ) -> list[str]:
        seen.append(caller)
        return [note]

    wrapped = handler(heights, locals())
    first, second = Caller("first"), Caller("second")
    assert await wrapped([], injection(first)) == ["for first"]
    assert await wrapped([], injection(second)) == ["for second"]  # per call, not per handler
    assert seen[0] is first
    assert seen[1] is second


async def test_an_override_in_the_injection_replaces_the_factory_and_is_analysed_once() -> None:
    def real_db() -> str:
        raise AssertionError("the real factory must not run")

    def fake_db(caller: Caller) -> str:
        return f"fake db for {caller.who}"

    async def heights(binding_set: BindingSet, db: Annotated[str, Depends(real_db)]) -> list[str]:
        return [db]

    wrapped = handler(heights, locals())
    overridden: dict[Callable[..., Any], Dependant] = {}
    overrides: dict[Callable[..., Any], Callable[..., Any]] = {real_db: fake_db}
    assert await wrapped([], injection(Caller("a"), overrides, overridden)) == ["fake db for a"]
    assert list(overridden) == [fake_db]  # the owner of the overrides keeps the analysis
    analysis = overridden[fake_db]
    assert await wrapped([], injection(Caller("b"), overrides, overridden)) == ["fake db for b"]
    assert overridden[fake_db] is analysis  # reused, not analysed again


async def test_without_an_override_the_declared_factory_runs() -> None:
    def real_db() -> str:
        return "real db"

    async def heights(binding_set: BindingSet, db: Annotated[str, Depends(real_db)]) -> list[str]:
        return [db]

    assert await handler(heights, locals())([], injection()) == ["real db"]


@pytest.mark.parametrize("with_parameters", [False, True])
async def test_a_sync_handler_runs_through_the_runner_of_the_injection(
    with_parameters: bool,
) -> None:
    runner = RecordingRunner()
    loop_thread = threading.get_ident()
    ran_in: list[int] = []

    if with_parameters:

        def heights(binding_set: BindingSet, caller: Caller) -> list[str]:
            ran_in.append(threading.get_ident())
            return [caller.who]
    else:

        def heights(binding_set: BindingSet) -> list[str]:  # type: ignore[misc]
            ran_in.append(threading.get_ident())
            return ["no context"]

    wrapped = handler(heights)
    assert not wrapped.is_async
    expected = ["me"] if with_parameters else ["no context"]
    assert await wrapped([], injection(Caller("me"), run_sync=runner)) == expected
    assert runner.calls == ["heights"]
    assert ran_in == runner.threads
    assert loop_thread not in ran_in


async def test_sync_factories_and_their_teardown_run_through_the_runner_too() -> None:
    runner = RecordingRunner()
    events: list[str] = []

    def connection() -> Iterator[str]:
        events.append("open")
        yield "conn"
        events.append("close")

    async def heights(
        binding_set: BindingSet, conn: Annotated[str, Depends(connection)]
    ) -> list[str]:
        events.append(f"handler with {conn}")
        return []

    await handler(heights, locals())([], injection(run_sync=runner))
    assert events == ["open", "handler with conn", "close"]
    assert len(runner.calls) == 3  # make the generator, enter it, leave it: all in threads


async def test_the_bindings_are_converted_to_the_input_model() -> None:
    received: list[list[Tree]] = []

    async def heights(binding_set: list[Tree]) -> list[Tree]:
        received.append(binding_set)
        return binding_set

    wrapped = handler(heights)
    assert wrapped.input_model is Tree
    await wrapped([{"tree": OAK}], injection())
    await wrapped([{}], injection())  # an ask that binds nothing: no models at all
    assert received == [[Tree(tree=IRI("http://example.org/oak"))], []]
