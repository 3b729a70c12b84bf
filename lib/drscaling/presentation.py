"""The executed study as something to present: one self-contained HTML report of a profile's
executed notebooks (``make html``) and a reveal.js deck of its figures and tables (``make slides``).

Both open without a network: figures are inline PNG, equations are converted from LaTeX to
MathML when the files are built (browsers render MathML natively; no MathJax), and the deck
inlines reveal.js from the ``pyreveal`` package, which bundles it.
"""

from __future__ import annotations

import copy
import html
import logging
import re
from importlib import resources
from pathlib import Path

import nbformat

from . import fileio
from .config import Profile
from .notebook_runner import study_notebooks

log = logging.getLogger(__name__)

REPORT_FILE = "report.html"
SLIDES_FILE = "slides.html"
TEMPLATES = Path(__file__).parent / "templates"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"  # tqdm bars: live only in a kernel
SLIDE_TAG = "slide"  # a cell tagged so puts its table in the deck
MAX_TABLE_ROWS = 12  # rows of a table a slide shows (the HTML report has them all)


# ---------------------------------------------------------------- the executed notebooks

def executed_notebooks(profile: Profile) -> list[Path]:
    """The profile's executed notebooks, in the study's order; FileNotFoundError naming the
    missing ones (the study has not run to its end)."""
    folder = profile.outputs_dir / "notebooks"
    found = [folder / f"{name}.ipynb" for name in study_notebooks()]
    missing = [p.name for p in found if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{folder}: no executed {', '.join(missing)}; run the study first "
                                f"(`make reproduce PROFILE={profile.name}`)")
    return found


# ---------------------------------------------------------------- LaTeX -> MathML

_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)
_DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.S)
# inline: no space inside the dollars, no digit after the closing one ("$3.93 per hour and $0.6")
_INLINE = re.compile(r"(?<![\\$\w])\$(?=\S)([^$\n]+?)(?<=\S)\$(?![\d$])")


def latex_to_mathml(markdown: str) -> str:
    """``markdown`` with each ``$$...$$`` (a block) and ``$...$`` (inline) replaced by MathML;
    code spans and fenced code are left as they are. A formula latex2mathml cannot read
    stays as its LaTeX source (logged)."""
    from latex2mathml.converter import convert

    def mathml(latex: str, display: str) -> str | None:
        try:
            return convert(latex.strip(), display=display)
        except Exception as e:  # noqa: BLE001 - the parser raises many types; the text survives
            log.warning("formula kept as LaTeX (%s: %s): %s", type(e).__name__, e, latex)
            return None

    def block(m):
        out = mathml(m.group(1), "block")
        return m.group(0) if out is None else f"\n\n{out}\n\n"

    def inline(m):
        out = mathml(m.group(1), "inline")
        return m.group(0) if out is None else out

    parts = _CODE.split(markdown)
    for i in range(0, len(parts), 2):  # even parts are outside code
        parts[i] = _INLINE.sub(inline, _DISPLAY.sub(block, parts[i]))
    return "".join(parts)


def _joined(value) -> str:
    """A notebook field as one string (nbformat keeps multi-line text as a list of lines)."""
    return "".join(value) if isinstance(value, list) else value


def presentable(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of an executed notebook ready to render: equations as MathML (markdown cells and
    markdown outputs), progress-bar widgets dropped."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = latex_to_mathml(cell.source)
            continue
        outputs = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_MIME in data:
                continue
            if "text/markdown" in data:
                data["text/markdown"] = latex_to_mathml(_joined(data["text/markdown"]))
            outputs.append(out)
        cell.outputs = outputs
    return nb


def study_notebook(profile: Profile) -> nbformat.NotebookNode:
    """The profile's executed notebooks as one notebook, in order, ready to render."""
    combined = nbformat.v4.new_notebook()
    for path in executed_notebooks(profile):
        nb = nbformat.read(path, as_version=4)
        if "language_info" in nb.metadata:  # the code cells' highlighting
            combined.metadata.setdefault("language_info", nb.metadata["language_info"])
        combined.cells.extend(presentable(nb).cells)
    return combined


# ---------------------------------------------------------------- the HTML report

_HEADING = re.compile(r'<h([1-3]) id="([^"]*)">(.*?)</h\1>', re.S)


def _unique_headings(page: str) -> tuple[str, list[tuple[int, str, str]]]:
    """The page with every heading id made unique (each notebook has its own "Take-away"), and
    the headings (level, id, text) in order."""
    seen: dict[str, int] = {}
    found: list[tuple[int, str, str]] = []

    def rename(m):
        level, anchor, inner = int(m.group(1)), m.group(2), m.group(3)
        seen[anchor] = seen.get(anchor, 0) + 1
        new = anchor if seen[anchor] == 1 else f"{anchor}-{seen[anchor]}"
        inner = inner.replace(f'href="#{anchor}"', f'href="#{new}"')
        text = html.unescape(re.sub(r"<[^>]+>", "", inner)).replace("¶", "").strip()
        found.append((level, new, text))
        return f'<h{level} id="{new}">{inner}</h{level}>'

    return _HEADING.sub(rename, page), found


def table_of_contents(headings: list[tuple[int, str, str]]) -> str:
    """A nested list of links: each notebook's title (h1) and its sections (h2)."""
    items, open_sub = [], False
    for level, anchor, text in headings:
        link = f'<a href="#{anchor}">{html.escape(text)}</a>'
        if level == 1:
            items.append(("</ul></li>" if open_sub else "</li>" if items else "") + f"<li>{link}")
            open_sub = False
        elif level == 2:
            items.append(("" if open_sub else "<ul>") + f"<li>{link}</li>")
            open_sub = True
    if items:
        items.append("</ul></li>" if open_sub else "</li>")
    return '<nav class="toc"><h2>Contents</h2><ul>' + "".join(items) + "</ul></nav>"


def render_html(nb: nbformat.NotebookNode, title: str) -> str:
    """One self-contained page: the notebook rendered with the ``drscaling_report`` template
    (code folded, nothing loaded from the network), a table of contents first."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="drscaling_report", extra_template_basedirs=[str(TEMPLATES)])
    page, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    page, headings = _unique_headings(page)
    return page.replace("<main>", "<main>\n" + table_of_contents(headings), 1)


def build_html(profile: Profile) -> Path:
    """``outputs/<profile>/report.html``: the executed study in one page."""
    out = profile.outputs_dir / REPORT_FILE
    fileio.write_text(out, render_html(study_notebook(profile), f"Scaling laws for dense retrieval: {profile.name}"))
    log.info("wrote %s", out)
    return out


# ---------------------------------------------------------------- the slides

def _is_take_away(heading: str) -> bool:
    return bool(re.search(r"take[ -]?away", heading, re.I))


def slides(nb: nbformat.NotebookNode) -> list[dict]:
    """The deck: each notebook's title slide (its heading and opening paragraph, the question
    it answers), each figure, each table of a cell tagged ``slide`` (the key tables; at most
    MAX_TABLE_ROWS rows shown), and each generated take-away (a markdown output under a
    "take away" heading), under the section heading it appears in. A slide is
    ``{"title", "kind": "title" | "figure" | "table" | "text", "body"}``: markdown for a title
    or text slide, base64 PNG for a figure, HTML for a table."""
    out: list[dict] = []
    heading = ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            lines = cell.source.strip().splitlines()
            if lines and lines[0].startswith("# "):
                heading = lines[0][2:].strip()
                opening = "\n".join(lines[1:]).strip().split("\n\n")[0]
                out.append({"title": heading, "kind": "title", "body": opening})
            elif lines and lines[0].startswith("#"):
                heading = lines[0].lstrip("#").strip()
            continue
        tagged = SLIDE_TAG in cell.get("metadata", {}).get("tags", [])
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            table = _joined(data.get("text/html", ""))
            if "image/png" in data:
                out.append({"title": heading, "kind": "figure", "body": _joined(data["image/png"]).strip()})
            elif tagged and "<table" in table:
                out.append({"title": heading, "kind": "table", "body": _first_rows(table, MAX_TABLE_ROWS)})
            elif "text/markdown" in data and _is_take_away(heading):
                out.append({"title": heading, "kind": "text", "body": _joined(data["text/markdown"])})
    return out


def _first_rows(table: str, n: int) -> str:
    """An HTML table cut after its first ``n`` body rows (pandas' markup: one <tr> a line)."""
    body = table.find("<tbody>")
    rows = [m.start() for m in re.finditer(r"<tr", table[body:])] if body >= 0 else []
    if len(rows) <= n:
        return table
    cut = body + rows[n]
    return table[:cut] + "</tbody></table>" + f"<p>(first {n} of {len(rows)} rows)</p>"


def _reveal_asset(name: str) -> str:
    return (resources.files("pyreveal") / "revealjs" / "dist" / name).read_text(encoding="utf-8")


def render_slides(deck: list[dict], title: str) -> str:
    """One self-contained reveal.js page of ``deck`` (reveal.js and its theme inlined)."""
    import jinja2
    from nbconvert.filters import markdown2html

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES / "slides"), autoescape=False)
    return env.get_template("deck.html.j2").render(
        title=title, slides=deck, markdown=markdown2html, escape=html.escape,
        reveal_css=_reveal_asset("reveal.css"), theme_css=_reveal_asset("theme/white.css"),
        reveal_js=_reveal_asset("reveal.js"))


def build_slides(profile: Profile) -> Path:
    """``outputs/<profile>/slides.html``: the study's figures and tables as a deck."""
    out = profile.outputs_dir / SLIDES_FILE
    deck = slides(study_notebook(profile))
    fileio.write_text(out, render_slides(deck, f"Scaling laws for dense retrieval: {profile.name}"))
    log.info("wrote %s (%d slides)", out, len(deck))
    return out


__all__ = ["REPORT_FILE", "SLIDES_FILE", "executed_notebooks", "latex_to_mathml", "presentable", "study_notebook",
           "table_of_contents", "render_html", "build_html", "slides", "render_slides", "build_slides"]
