import gzip
import json
import os
from pathlib import Path

import pytest

from drscaling import paths


@pytest.fixture(autouse=True)
def isolated_trees(tmp_path, monkeypatch):
    """Generated data and outputs of every test go to its own temporary folder."""
    monkeypatch.setenv("DRSCALING_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("DRSCALING_OUTPUTS", str(tmp_path / "outputs"))


def _skip_without(files: list[Path], what: str) -> None:
    """Skip the test when a real dataset file is missing; fail instead under CI=true."""
    missing = [f for f in files if not f.is_file()]
    if missing:
        message = f"real {what} files not found: {', '.join(map(str, missing))} (set DRSCALING_DATASETS)"
        if os.environ.get("CI", "").lower() == "true":  # CI must run the trainer on real data
            pytest.fail(f"{message}; under CI=true the tests that need them fail instead of skipping")
        pytest.skip(message)


@pytest.fixture(scope="session")
def shared_squad() -> Path:
    """The real SQuAD v1.1 files (../shared/datasets, or $DRSCALING_DATASETS)."""
    d = paths.shared_datasets() / "squad-v1.1"
    _skip_without([d / "dev-v1.1.json.gz"], "SQuAD")
    return d


@pytest.fixture(scope="session")
def shared_chinese() -> Path:
    """The real CMRC 2018 and DRCD files that configs/smoke-zh.yaml reads (../shared/datasets,
    or $DRSCALING_DATASETS): the datasets folder."""
    d = paths.shared_datasets()
    _skip_without([d / "cmrc2018" / "cmrc2018_trial.json.gz", d / "drcd" / "DRCD_test.json.gz"], "CMRC 2018 / DRCD")
    return d


def squad_doc(articles):
    """A SQuAD-schema document from [(title, [(context, [(qid, question), ...]), ...]), ...]."""
    return {
        "version": "1.1",
        "data": [
            {
                "title": title,
                "paragraphs": [
                    {"context": ctx, "qas": [{"id": qid, "question": q, "answers": []} for qid, q in qas]}
                    for ctx, qas in paragraphs
                ],
            }
            for title, paragraphs in articles
        ],
    }


def write_json(path: Path, doc, gz: bool = False) -> Path:
    data = json.dumps(doc).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def synthetic_articles(n_articles: int, paragraphs: int, questions: int, prefix: str):
    """Articles with distinct paragraphs, each with a few questions, for pipeline tests."""
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
    out = []
    for a in range(n_articles):
        paras = []
        for p in range(paragraphs):
            ctx = f"{prefix} article {a} paragraph {p}: " + " ".join(words[(a + p + i) % len(words)] for i in range(30))
            qas = [(f"{prefix}-{a}-{p}-{q}", f"what is {words[(a * 7 + p * 3 + q) % len(words)]} in {a} {p} {q}?")
                   for q in range(questions)]
            paras.append((ctx, qas))
        out.append((f"{prefix} title {a}", paras))
    return out


# ---------------------------------------------------------------- a headless browser

# Chromium on a closed network: no background connections, a fresh profile each time
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]

# appended to a copy of the page: after load, what rendered, as JSON in <pre id="browser-check">
_CHECK_SCRIPT = """<script>
window.addEventListener('load', () => setTimeout(() => {
  const images = [...document.images];
  const maths = [...document.querySelectorAll('math')];
  const report = {
    images: images.length,
    rendered: images.filter(i => i.complete && i.naturalWidth > 0).length,
    math: maths.length,
    math_laid_out: maths.filter(m => m.getBoundingClientRect().width > 0).length,
    external: performance.getEntriesByType('resource').map(e => e.name)
      .filter(n => !n.startsWith('data:') && !n.startsWith('file:')),
    reveal: window.Reveal ? {ready: Reveal.isReady(), slides: Reveal.getTotalSlides()} : null,
  };
  const pre = document.createElement('pre');
  pre.id = 'browser-check';
  pre.textContent = JSON.stringify(report);
  document.body.appendChild(pre);
}, 300));
</script>"""


class Browser:
    """Headless Chromium run as a command: what a page renders, and a screenshot."""

    def __init__(self, executable: str, workdir: Path):
        self.executable, self.workdir = executable, workdir

    def _run(self, *args: str) -> str:
        import subprocess
        import tempfile

        with tempfile.TemporaryDirectory(dir=self.workdir) as profile_dir:
            done = subprocess.run([self.executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", *args],
                                  capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    def inspect(self, page: Path) -> dict:
        """Open ``page`` (a copy with the check script) and report its images (how many, how many
        decoded), its MathML (how many, how many laid out), every resource fetched from outside
        the file, and reveal.js's state if it has one."""
        import html
        import re

        text = page.read_text(encoding="utf-8")
        probe = self.workdir / f"probe-{page.name}"
        probe.write_text(text.replace("</body>", _CHECK_SCRIPT + "</body>", 1), encoding="utf-8")
        dom = self._run("--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
        found = re.search(r'<pre id="browser-check">(.*?)</pre>', dom, re.S)
        assert found, f"{page}: the page did not finish loading (no check in the DOM)"
        return json.loads(html.unescape(found.group(1)))

    def screenshot(self, url: str, out: Path, size: str = "1024,700") -> Path:
        self._run(f"--window-size={size}", "--virtual-time-budget=5000", f"--screenshot={out}", url)
        assert out.is_file(), f"no screenshot of {url}"
        return out


@pytest.fixture(scope="session")
def browser(tmp_path_factory) -> Browser | None:
    """Headless Chromium (`make browser` installs it), or None where it is missing: tests skip
    what needs it, except under CI=true, where they fail."""
    import shutil

    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("no chromium on PATH; under CI=true the browser tests fail instead of skipping (make browser)")
        return None
    return Browser(exe, tmp_path_factory.mktemp("browser"))
