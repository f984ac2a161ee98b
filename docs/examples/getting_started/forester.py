"""An asking knowledge base: every five seconds it asks how tall the trees are."""

from km_core import IRI, BindingModel, KnowledgeBase


class TreeHeight(BindingModel):
    """One tree and its height in metres."""

    tree: IRI
    height: int


kb = KnowledgeBase(
    id="http://example.org/kb/forester",
    name="forester",
    description="Keeps an eye on the trees",
)

tree_heights = kb.ask_ki(
    "tree-heights",
    "?tree ex:height ?height .",
    prefixes={"ex": "http://example.org/"},
    binding_model=TreeHeight,
)


@kb.every(5.0)
async def ask_heights() -> None:
    """Ask everyone who knows tree heights, and print what they answer."""
    for answer in await kb.ask(tree_heights):
        print(f"{answer.tree} is {answer.height} m tall", flush=True)
