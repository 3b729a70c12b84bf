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


@pytest.fixture(scope="session")
def shared_squad() -> Path:
    """The real SQuAD v1.1 files (../shared/datasets, or $DRSCALING_DATASETS)."""
    d = paths.shared_datasets() / "squad-v1.1"
    if not (d / "dev-v1.1.json.gz").is_file():
        message = f"real SQuAD files not found in {d} (set DRSCALING_DATASETS)"
        if os.environ.get("CI", "").lower() == "true":  # CI must run the trainer on real data
            pytest.fail(f"{message}; under CI=true the tests that need them fail instead of skipping")
        pytest.skip(message)
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
