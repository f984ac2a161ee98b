"""The documentation site renders offline, and its API reference shows only public names.

The site is built once for this module, with ``mkdocs build --strict`` into a temporary
directory, and its HTML is read with the standard library's parser.

No page loads anything from another host: no script, stylesheet, font, icon or image, no
``@import`` or ``url()`` in a style or in the site's own stylesheets, and no Mermaid diagram (the
theme's script fetches Mermaid from unpkg.com for one). Links (``<a href>``) to other sites are
fine.

The reference pages show no private name to a reader, who sees the text of the page (code
included) and the tooltips and labels of its elements (``title``, ``alt`` and ``aria-label``
attributes); ids, hrefs, classes, comments, scripts and styles are not shown. Private names are
paths into the packages' private modules (``km_core._models``) and identifiers with a single
leading underscore (``_KEModel``) or two without trailing ones (``__mangled``). Dunder names are
Python's (``__cause__``, ``__version__``) and may be named in the text; the reference documents
no object under a private or dunder name, though, except one a package exports in ``__all__``
(``__version__``, which it does not document today).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

import pytest

import km_core
import km_httpx
import km_mapper
import km_testing

ROOT = Path(__file__).resolve().parents[1]
# The reference pages, by the package each documents.
REFERENCE: dict[str, ModuleType] = {
    "km-core": km_core,
    "km-httpx": km_httpx,
    "km-mapper": km_mapper,
    "km-testing": km_testing,
}

# The build takes 5 to 10 s, well within pytest's 60 s timeout; the build's own timeout expires
# before pytest's, so that the failure says what happened.
BUILD_TIMEOUT = 50

# <link> relations that only point somewhere. Every other relation makes the browser fetch or
# connect: stylesheet, icon, preload, modulepreload, prefetch, preconnect, dns-prefetch, ...
NAVIGATION_RELS = frozenset(
    {"alternate", "author", "bookmark", "canonical", "help", "license", "me", "next", "prev"}
)
# The attributes that make the browser fetch what they name, per element.
RESOURCE_ATTRIBUTES = {
    "audio": ("src",),
    "embed": ("src",),
    "frame": ("src",),
    "iframe": ("src",),
    "img": ("src", "srcset"),
    "input": ("src",),
    "object": ("data",),
    "script": ("src",),
    "source": ("src", "srcset"),
    "track": ("src",),
    "video": ("src", "poster"),
}
RAW_TEXT_ELEMENTS = ("script", "style")
CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)""")
CSS_IMPORT = re.compile(r"""@import\s+(?:"([^"]*)"|'([^']*)')""")

# The attributes whose text a reader sees: tooltips, alternative text, screen-reader labels.
VISIBLE_ATTRIBUTES = ("title", "alt", "aria-label")
PRIVATE_MODULE_PATH = re.compile(r"\b(?:km_core|km_httpx|km_mapper|km_testing)\._\w*")
UNDERSCORED_NAME = re.compile(r"(?<!\w)_+[A-Za-z0-9]\w*")


def is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


class Page(HTMLParser):
    """What one HTML page loads, and what it shows under which heading."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.resources: list[tuple[str, str]] = []
        self.styles: list[str] = []
        self.stylesheets: list[str] = []
        self.mermaid = False
        # (where, the id of the heading above, the text)
        self.texts: list[tuple[str, str, str]] = []
        self.headings: list[str] = []
        self._raw_text: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag in RAW_TEXT_ELEMENTS:
            self._raw_text = tag
        if re.fullmatch(r"h[1-6]", tag) and values.get("id"):
            self.headings.append(values["id"])
        if tag == "link":
            rels = set(values.get("rel", "").lower().split())
            if not rels or rels - NAVIGATION_RELS:
                self.resources.append((f"<link rel={values.get('rel')!r}>", values.get("href", "")))
            if "stylesheet" in rels:
                self.stylesheets.append(values.get("href", ""))
        for attribute in RESOURCE_ATTRIBUTES.get(tag, ()):
            if attribute in values:
                value = values[attribute]
                urls = srcset_urls(value) if attribute == "srcset" else [value]
                self.resources += [(f"<{tag} {attribute}>", url) for url in urls]
        if "style" in values:
            self.styles.append(values["style"])
        if tag == "pre" and "mermaid" in values.get("class", "").split():
            self.mermaid = True
        self.texts += [
            (f"{attribute} attribute", self.heading, values[attribute])
            for attribute in VISIBLE_ATTRIBUTES
            if values.get(attribute)
        ]

    def handle_endtag(self, tag: str) -> None:
        if tag == self._raw_text:
            self._raw_text = None

    def handle_data(self, data: str) -> None:
        if self._raw_text == "style":
            self.styles.append(data)
        elif self._raw_text is None and data.strip():
            self.texts.append(("text", self.heading, data))

    @property
    def heading(self) -> str:
        return f"#{self.headings[-1]}" if self.headings else "the top of the page"


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def srcset_urls(srcset: str) -> list[str]:
    return [candidate.split()[0] for candidate in srcset.split(",") if candidate.strip()]


def is_external(url: str) -> bool:
    """Whether the browser fetches ``url`` from another host (the site sets no site_url)."""
    parts = urlsplit(url.strip())
    return parts.scheme in ("http", "https") or (not parts.scheme and bool(parts.netloc))


def css_urls(css: str) -> Iterator[str]:
    for pattern in (CSS_URL, CSS_IMPORT):
        for match in pattern.finditer(css):
            yield next(group for group in match.groups() if group is not None)


def external_resources(page: Page) -> list[str]:
    found = [f"{where} {url}" for where, url in page.resources if is_external(url)]
    found += [f"style {url}" for css in page.styles for url in css_urls(css) if is_external(url)]
    if page.mermaid:
        found.append("<pre class='mermaid'>, for which the theme loads Mermaid from unpkg.com")
    return found


def private_names(page: Page, package: ModuleType) -> dict[str, set[str]]:
    """The private names the page shows, each with where it shows them."""
    found: defaultdict[str, set[str]] = defaultdict(set)
    for where, heading, text in page.texts:
        names = {match.group() for match in PRIVATE_MODULE_PATH.finditer(text)}
        # What is left of `km_core._models._KEModel` is `_KEModel`.
        rest = PRIVATE_MODULE_PATH.sub(" ", text)
        names |= {name for name in UNDERSCORED_NAME.findall(rest) if not is_dunder(name)}
        for name in names:
            found[name].add(f"{where} under {heading}")
    for heading in page.headings:
        path = heading.removeprefix(f"{package.__name__}.")
        private = any(part.startswith("_") for part in path.split("."))
        if path != heading and private and path not in package.__all__:
            found[heading].add("documented object")
    return dict(found)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site_dir = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=BUILD_TIMEOUT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"mkdocs build failed:\n{result.stdout}\n{result.stderr}"
    return site_dir


def test_the_checks_find_what_they_look_for() -> None:
    page = parse(
        '<html><head><link rel="stylesheet" href="https://fonts.example.com/css">'
        '<link rel="preconnect" href="//fonts.example.com"><link rel="icon" href="favicon.png">'
        '<link rel="canonical" href="https://elsewhere.example.com/">'
        "<style>@import 'https://cdn.example.com/a.css'; p { background: url(img/x.png) }</style>"
        '<script src="https://cdn.example.com/x.js"></script><script>var _local = 1;</script>'
        '</head><body><input id="__drawer"><a href="https://elsewhere.example.com/">out</a>'
        '<img src="https://img.example.com/a.png" alt="a plot"><!-- _comment -->'
        '<h3 id="km_core.LeaseInfo">LeaseInfo</h3>'
        '<p style="background: url(&quot;https://img.example.com/b.png&quot;)">'
        'Bases: <span title="km_core._models._KEModel">_KEModel</span>, 1_000, __version__,'
        ' __cause__, self.__secret</p><h4 id="km_core.LeaseInfo.__eq__">__eq__</h4>'
        '<h3 id="km_core.__version__">__version__</h3>'
        '<pre class="mermaid"><code>graph LR</code></pre></body></html>'
    )
    assert external_resources(page) == [
        "<link rel='stylesheet'> https://fonts.example.com/css",
        "<link rel='preconnect'> //fonts.example.com",
        "<script src> https://cdn.example.com/x.js",
        "<img src> https://img.example.com/a.png",
        "style https://cdn.example.com/a.css",
        "style https://img.example.com/b.png",
        "<pre class='mermaid'>, for which the theme loads Mermaid from unpkg.com",
    ]
    assert private_names(page, km_core) == {
        "km_core._models": {"title attribute under #km_core.LeaseInfo"},
        "_KEModel": {"title attribute under #km_core.LeaseInfo", "text under #km_core.LeaseInfo"},
        "__secret": {"text under #km_core.LeaseInfo"},
        "km_core.LeaseInfo.__eq__": {"documented object"},
    }


def test_site_loads_nothing_from_other_hosts(site: Path) -> None:
    site = site.resolve()
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 10, f"only {len(pages)} pages were built"
    stylesheets: set[Path] = set()
    findings: defaultdict[str, list[str]] = defaultdict(list)
    for path in pages:
        page = parse(path.read_text(encoding="utf-8"))
        for found in external_resources(page):
            findings[found].append(path.relative_to(site).as_posix())
        for href in page.stylesheets:
            parts = urlsplit(href)
            if not parts.scheme and not parts.netloc:
                # 404.html links from the site's root, the other pages relative to themselves.
                base = site if parts.path.startswith("/") else path.parent
                stylesheets.add((base / parts.path.lstrip("/")).resolve())
    assert stylesheets, "the pages link no stylesheets of the site"
    for stylesheet in sorted(stylesheets):
        css = stylesheet.read_text(encoding="utf-8")
        for url in css_urls(css):
            if is_external(url):
                findings[f"url() or @import {url}"].append(stylesheet.relative_to(site).as_posix())
    assert not findings, "resources loaded from other hosts:\n" + "\n".join(
        f"  {found}\n    on {', '.join(where)}" for found, where in sorted(findings.items())
    )


@pytest.mark.parametrize("name", REFERENCE)
def test_reference_shows_only_public_names(site: Path, name: str) -> None:
    page = parse((site / "reference" / name / "index.html").read_text(encoding="utf-8"))
    package = REFERENCE[name]
    findings = private_names(page, package)
    assert not findings, f"reference/{name} shows private names:\n" + "\n".join(
        f"  {private}: {', '.join(sorted(places))}" for private, places in sorted(findings.items())
    )
    # Hiding everything would hide the private names too: the page documents every public class
    # and function. (mkdocstrings leaves out constants without a docstring, such as XSD.)
    documented = set(page.headings)
    undocumented = [
        public
        for public in package.__all__
        if callable(getattr(package, public)) and f"{package.__name__}.{public}" not in documented
    ]
    assert not undocumented, f"reference/{name} does not document {undocumented}"
