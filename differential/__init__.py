"""Differential runs: play the same REST scenarios against two Knowledge Engines and compare.

``python -m differential --a URL --b URL`` runs every scenario of `differential.scenarios`
against both engines (one scenario at a time on each engine, the two engines side by side),
records the status codes and bodies each returned, what each answering or reacting KB received,
and the results and exchange info of every exchange, normalises what may legitimately differ
(ids, timestamps, UUIDs, the order of sets) and reports per scenario whether the engines agree.
Its use is to hold the local engine of km-testing to a real Knowledge Engine
(see docs/differential-runs.md).

Modules: `differential.recorder` (the recording REST client a scenario drives),
`differential.compare` (normalisation and comparison), `differential.scenario` (declaring and
selecting scenarios), `differential.scenarios` (the scenarios), `differential.report` (the
Markdown and JSON reports) and `differential.run` (running them; the command line).
"""
