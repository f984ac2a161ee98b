"""An answering knowledge base: it knows how tall some trees are."""

from km_core import KnowledgeBase

kb = KnowledgeBase(
    id="http://example.org/kb/trees",
    name="trees",
    description="Knows how tall trees are",
)

INTEGER = "http://www.w3.org/2001/XMLSchema#integer"
HEIGHTS = {"<http://example.org/oak>": 21, "<http://example.org/beech>": 30}


@kb.answer_ki(
    "tree-heights",
    "?tree ex:height ?height .",
    prefixes={"ex": "http://example.org/"},
)
def heights(binding_set: list[dict[str, str]]) -> list[dict[str, str]]:
    """Answer the heights of the trees asked for; an ask for everything binds no tree."""
    wanted = {binding["tree"] for binding in binding_set if "tree" in binding}
    return [
        {"tree": tree, "height": f'"{height}"^^<{INTEGER}>'}
        for tree, height in HEIGHTS.items()
        if not wanted or tree in wanted
    ]
