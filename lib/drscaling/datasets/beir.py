"""Any dataset in the BEIR folder format, the format most retrieval datasets ship in.

A folder with ``corpus.jsonl`` (a line ``{"_id": ..., "title": ..., "text": ...}`` per
passage), ``queries.jsonl`` (``{"_id": ..., "text": ...}``) and ``qrels/<split>.tsv``
(``query-id<TAB>corpus-id<TAB>score`` with a header line). A passage's text is its title and
its text joined by a space (as DPR and BEIR's own dense models read it). Splits: ``train`` and
``test`` (the profile's ``data.files`` may point ``test_qrels`` at ``qrels/dev.tsv``). Files may
be gzipped. Bad input raises DataFormatError naming the file, the line and the field.
"""

from __future__ import annotations

import json
from pathlib import Path

from .base import DataFormatError, RetrievalDataset, Split
from .tsv import _lines, read_qrels

DEFAULT_FILES = {
    "collection": "corpus.jsonl",
    "queries": "queries.jsonl",
    "train_qrels": "qrels/train.tsv",
    "test_qrels": "qrels/test.tsv",
}


def read_jsonl(path: str | Path, kind: str, with_title: bool = False) -> dict[str, str]:
    """``{"_id", "text"[, "title"]}`` lines to ``id -> text``; bad JSON, a missing or empty id or
    text, or a repeated id is a DataFormatError naming the line and the field."""
    path = Path(path)
    out: dict[str, str] = {}
    for lineno, line in _lines(path, f"read {path.name}"):
        where = f"line {lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataFormatError(path, where, None, f"a JSON object ({e.msg} at column {e.colno})") from None
        if not isinstance(record, dict):
            raise DataFormatError(path, where, None, f"a JSON object, found {type(record).__name__}")
        key = record.get("_id")
        if not isinstance(key, (str, int)) or not str(key).strip():
            raise DataFormatError(path, where, "_id", f"a non-empty id, found {key!r}")
        key = str(key).strip()
        text = record.get("text")
        if not isinstance(text, str):
            raise DataFormatError(path, f"{where} (id {key!r})", "text", f"a string, found {text!r}")
        title = (record.get("title") or "") if with_title else ""
        if not isinstance(title, str):
            raise DataFormatError(path, f"{where} (id {key!r})", "title", f"a string or null, found {title!r}")
        joined = f"{title.strip()} {text.strip()}".strip()
        if not joined:
            raise DataFormatError(path, f"{where} (id {key!r})", "text", f"a non-empty {kind}, found an empty one")
        if key in out:
            raise DataFormatError(path, where, "_id", f"a unique id; {key!r} occurs twice")
        out[key] = joined
    if not out:
        raise DataFormatError(path, None, None, f"at least one {kind} line; found none (the file is empty)")
    return out


def load_beir_files(files: dict[str, Path], name: str = "beir", min_relevance: int = 1) -> RetrievalDataset:
    """A dataset from the found files: ``collection``, ``queries`` and ``<split>_qrels``."""
    corpus_path, queries_path = Path(files["collection"]), Path(files["queries"])
    corpus = read_jsonl(corpus_path, "passage", with_title=True)
    queries = read_jsonl(queries_path, "query")
    splits: dict[str, Split] = {}
    for key in sorted(k for k in files if k.endswith("_qrels")):
        split, path = key[: -len("_qrels")], Path(files[key])
        qrels = read_qrels(path, min_relevance, beir=True)
        for qid, pids in qrels.items():
            if qid not in queries:
                raise DataFormatError(path, f"query {qid!r}", "query-id", f"a query id present in {queries_path.name}")
            missing = [p for p in pids if p not in corpus]
            if missing:
                raise DataFormatError(path, f"query {qid!r}", "corpus-id",
                                      f"passage ids present in {corpus_path.name}; {missing[:3]} are not")
        splits[split] = Split(queries={q: queries[q] for q in qrels if qrels[q]},
                              qrels={q: p for q, p in qrels.items() if p})
    if not splits:
        raise ValueError(f"{name}: data.files names no '<split>_qrels' file")
    return RetrievalDataset(name=name, corpus=corpus, splits=splits)


def load_beir(directory: str | Path, files: dict[str, str] | None = None, name: str = "beir") -> RetrievalDataset:
    """A BEIR folder (``DEFAULT_FILES`` names, or ``files`` relative to ``directory``)."""
    directory = Path(directory)
    return load_beir_files({k: directory / v for k, v in {**DEFAULT_FILES, **(files or {})}.items()}, name)
