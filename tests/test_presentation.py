"""make html / make slides: the executed study as one offline page and a reveal.js deck."""

import base64
import io
import re

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from drscaling import presentation
from drscaling.config import load_profile
from drscaling.notebook_runner import study_notebooks


# ---------------------------------------------------------------- LaTeX -> MathML

def test_inline_and_display_math_become_mathml():
    out = presentation.latex_to_mathml("The loss $L(D)$ falls:\n\n$$L(D) = \\left(\\frac{B}{D}\\right)^{\\beta}$$\n")
    assert "$" not in out
    assert out.count("<math") == 2 and out.count('display="block"') == 1 and out.count('display="inline"') == 1
    assert "<mfrac>" in out and "&#x003B2;" in out  # the fraction and beta, as MathML


def test_prices_code_and_escaped_dollars_stay_text():
    text = "costs $3.93 per hour and $0.6 per pair; `x = $a$` and\n```\n$b$\n```\nand \\$5"
    assert presentation.latex_to_mathml(text) == text


def test_unreadable_formula_stays_latex(caplog):
    assert presentation.latex_to_mathml("see $\\left( x$") == "see $\\left( x$"
    assert "kept as LaTeX" in caplog.text


# ---------------------------------------------------------------- a synthetic executed study

def png(seed: int) -> str:
    """A small real figure as base64 PNG (each seed draws a different line)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot(np.random.default_rng(seed).random(10))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def table_html(rows: int) -> str:
    body = "".join(f"<tr><th>{i}</th><td>{i * i}</td></tr>\n" for i in range(rows))
    return f'<table class="dataframe"><thead><tr><th></th><th>x</th></tr></thead><tbody>\n{body}</tbody></table>'


def executed(name: str, seed: int) -> nbformat.NotebookNode:
    """What papermill leaves: a title with its question, a section with an equation, a figure,
    a tagged table of 20 rows, an untagged table, a tqdm widget, a generated take-away."""
    nb = new_notebook()
    figure = new_code_cell("plot()", execution_count=1, outputs=[
        new_output("display_data", data={"image/png": png(seed), "text/plain": "<Figure>"})])
    tagged = new_code_cell("show(table)", execution_count=2, metadata={"tags": ["slide"]}, outputs=[
        new_output("execute_result", data={"text/html": table_html(20), "text/plain": "table"}, execution_count=2)])
    untagged = new_code_cell("show(other)", execution_count=3, outputs=[
        new_output("display_data", data={"text/html": table_html(2), "text/plain": "table"}),
        new_output("display_data", data={presentation.WIDGET_MIME: {"model_id": "x"}, "text/plain": "HBox()"})])
    take_away = new_code_cell("narrative()", execution_count=4, outputs=[
        new_output("display_data", data={"text/markdown": f"Notebook {name}: the slope is $\\alpha = 0.{seed}$.",
                                         "text/plain": "md"})])
    nb.cells = [new_markdown_cell(f"# {name}\n\nWhich question does {name} answer?\n\nMore text."),
                new_markdown_cell("## Fits\n\nThe law $$L(N) = \\left(\\frac{A}{N}\\right)^{\\alpha} + \\delta$$"),
                figure, tagged, untagged, new_markdown_cell("## What to take away"), take_away]
    return nb


@pytest.fixture
def study():
    """The smoke profile with a synthetic executed notebook for each of its stages."""
    profile = load_profile("smoke")
    folder = profile.outputs_dir / "notebooks"
    folder.mkdir(parents=True)
    for seed, name in enumerate(study_notebooks()):
        nbformat.write(executed(name, seed), folder / f"{name}.ipynb")
    return profile


def test_missing_executed_notebook_is_named(study):
    (study.outputs_dir / "notebooks" / f"{study_notebooks()[2]}.ipynb").unlink()
    with pytest.raises(FileNotFoundError, match=f"{study_notebooks()[2]}.ipynb.*make reproduce PROFILE=smoke"):
        presentation.build_html(study)


def test_deck_has_titles_figures_tagged_tables_and_take_aways(study):
    deck = presentation.slides(presentation.study_notebook(study))
    n = len(study_notebooks())
    assert [s["kind"] for s in deck] == ["title", "figure", "table", "text"] * n
    assert deck[0] == {"title": study_notebooks()[0], "kind": "title",
                       "body": f"Which question does {study_notebooks()[0]} answer?"}
    assert [s["title"] for s in deck[1:4]] == ["Fits", "Fits", "What to take away"]
    assert deck[2]["body"].count("<tr") == 1 + presentation.MAX_TABLE_ROWS and "first 12 of 20 rows" in deck[2]["body"]
    assert "<math" in deck[3]["body"] and "$" not in deck[3]["body"]


def test_report_page_has_contents_folded_code_and_nothing_external(study):
    page = presentation.build_html(study).read_text()
    toc = page[page.index('<nav class="toc">'):page.index("</nav>")]
    assert [m for m in re.findall(r'href="#([^"]+)"', toc)][:3] == [study_notebooks()[0], "Fits", "What-to-take-away"]
    ids = re.findall(r'<h[1-3] id="([^"]+)"', page)
    assert len(ids) == len(set(ids)) == 3 * len(study_notebooks())  # "Fits" of each notebook its own anchor
    assert "Fits-2" in ids and 'href="#Fits-2"' in toc
    assert page.count('<details class="code">') == 4 * len(study_notebooks())
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', page)) == len(study_notebooks())
    assert "HBox()" not in page and "$" not in re.sub(r"<(style|script)[^>]*>.*?</\1>", "", page, flags=re.S)
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', page)


def test_report_and_deck_render_in_a_browser(study, browser, tmp_path):
    if browser is None:
        pytest.skip("no chromium on PATH (make browser installs it)")
    n = len(study_notebooks())
    report = browser.inspect(presentation.build_html(study))
    assert report["images"] == report["rendered"] == n
    assert report["math"] == report["math_laid_out"] == 2 * n  # the section's law and the take-away's slope
    assert report["external"] == [] and report["reveal"] is None
    deck_path = presentation.build_slides(study)
    deck = browser.inspect(deck_path)
    assert deck["images"] == deck["rendered"] == n
    assert deck["external"] == [] and deck["reveal"] == {"ready": True, "slides": 1 + 4 * n}
    # the second slide drawn: not a blank page
    shot = browser.screenshot(deck_path.as_uri() + "#/1", tmp_path / "slide.png")
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (700, 1024) and pixels[..., :3].std() > 0.02
