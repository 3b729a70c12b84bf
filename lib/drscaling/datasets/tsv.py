"""Collections, queries and qrels in the TSV formats of MS MARCO and T2Ranking.

- id/text files: ``id<TAB>text`` a line (an optional header line ``pid``/``qid``/``id`` is skipped);
- qrels: ``qid<TAB>pid`` (T2Ranking retrieval qrels) or TREC ``qid 0 pid relevance`` (tabs or
  spaces), or BEIR's ``query-id<TAB>corpus-id<TAB>score``; pairs below ``min_relevance`` are dropped.
Files may be gzipped.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

from tqdm.auto import tqdm

from .base import DataFormatError, RetrievalDataset, Split

HEADER_IDS = {"pid", "qid", "id", "query_id", "doc_id", "query-id"}


def _open_text(path: Path):
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with open(path, "rb") as f:
        magic = f.read(2)
    raw = gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8", newline="\n")


def _lines(path: Path, desc: str):
    with _open_text(path) as f:
        try:
            for lineno, line in enumerate(tqdm(f, desc=desc, unit=" lines", mininterval=2), start=1):
                line = line.rstrip("\n").rstrip("\r")
                if line:
                    yield lineno, line
        except (EOFError, OSError) as e:
            raise DataFormatError(path, None, None, f"a complete file; reading failed ({e}): truncated?") from None
        except UnicodeDecodeError as e:
            raise DataFormatError(path, None, None, f"UTF-8 text ({e})") from None


def read_id_text(path: str | Path, kind: str = "text") -> dict[str, str]:
    """``id<TAB>text`` lines to a dict; duplicate ids, empty ids or texts are errors."""
    path = Path(path)
    out: dict[str, str] = {}
    for lineno, line in _lines(path, f"read {path.name}"):
        parts = line.split("\t", 1)
        if lineno == 1 and parts[0].strip().lower() in HEADER_IDS:
            continue
        if len(parts) != 2:
            raise DataFormatError(path, f"line {lineno}", kind, "two tab-separated fields (id, text); found one")
        key, text = parts[0].strip(), parts[1].strip()
        if not key:
            raise DataFormatError(path, f"line {lineno}", "id", "a non-empty id")
        if not text:
            raise DataFormatError(path, f"line {lineno} (id {key!r})", kind, "a non-empty text, found an empty one")
        if key in out:
            raise DataFormatError(path, f"line {lineno}", "id", f"a unique id; {key!r} occurs twice")
        out[key] = text
    if not out:
        raise DataFormatError(path, None, None, f"at least one 'id<TAB>{kind}' line; found none (the file is empty)")
    return out


def read_qrels(path: str | Path, min_relevance: int = 1, beir: bool = False) -> dict[str, list[str]]:
    """qrels (two-column or TREC four-column; with ``beir``, BEIR's three columns instead of
    two) to ``qid -> [pid, ...]`` (relevant ones only)."""
    path = Path(path)
    out: dict[str, list[str]] = {}
    judgements = 0
    for lineno, line in _lines(path, f"read {path.name}"):
        parts = line.split("\t") if "\t" in line else line.split()
        if lineno == 1 and parts[0].strip().lower() in HEADER_IDS:
            continue
        judgements += 1
        if len(parts) == 2 and not beir:
            qid, pid, rel = parts[0], parts[1], str(min_relevance)
        elif len(parts) == 3 and beir:
            qid, pid, rel = parts
        elif len(parts) == 4:
            qid, _, pid, rel = parts
        else:
            raise DataFormatError(
                path, f"line {lineno}", "qrels", ("3 fields (query-id, corpus-id, score)" if beir else "2 fields (qid, pid)")
                + f" or 4 (qid, 0, pid, relevance); found {len(parts)}"
            )
        try:
            relevance = int(float(rel))
        except ValueError:
            raise DataFormatError(path, f"line {lineno}", "relevance", f"a number, found {rel!r}") from None
        if relevance >= min_relevance:
            pids = out.setdefault(qid.strip(), [])
            if pid.strip() not in pids:
                pids.append(pid.strip())
    if not judgements:
        raise DataFormatError(path, None, None, "at least one qrels line (qid, pid); found none (the file is empty)")
    return out


def load_tsv_dataset(name: str, directory: str | Path, files: dict[str, str], min_relevance: int = 1) -> RetrievalDataset:
    """A dataset from a collection file and, per split, a queries and a qrels file.

    ``files`` has ``collection`` and, for each split S, ``S_queries`` and ``S_qrels``.
    Only queries with at least one relevant passage are kept.
    """
    directory = Path(directory)
    if "collection" not in files:
        raise ValueError(f"{name}: data.files needs a 'collection' entry, got {sorted(files)}")
    collection_path = directory / files["collection"]
    corpus = read_id_text(collection_path, "passage")
    split_names = sorted({k[: -len("_queries")] for k in files if k.endswith("_queries")})
    splits: dict[str, Split] = {}
    for s in split_names:
        if f"{s}_qrels" not in files:
            raise ValueError(f"{name}: data.files has {s}_queries but no {s}_qrels")
        q_path, r_path = directory / files[f"{s}_queries"], directory / files[f"{s}_qrels"]
        queries = read_id_text(q_path, "query")
        qrels = read_qrels(r_path, min_relevance)
        for qid, pids in qrels.items():
            if qid not in queries:
                raise DataFormatError(r_path, f"query {qid!r}", "qid", f"a query id present in {q_path.name}")
            missing = [p for p in pids if p not in corpus]
            if missing:
                raise DataFormatError(
                    r_path, f"query {qid!r}", "pid", f"passage ids present in {collection_path.name}; {missing[:3]} are not"
                )
        splits[s] = Split(queries={q: queries[q] for q in qrels}, qrels=qrels)
    if not splits:
        raise ValueError(f"{name}: data.files names no '<split>_queries' / '<split>_qrels' pairs")
    return RetrievalDataset(name=name, corpus=corpus, splits=splits)


def load_ir_datasets(name: str, dataset_ids: dict[str, str], min_relevance: int = 1) -> RetrievalDataset:
    """The same dataset through the ``ir_datasets`` package (optional; it downloads on first use).

    ``dataset_ids`` maps a split to an ir_datasets id, e.g.
    ``{"train": "msmarco-passage/train", "test": "msmarco-passage/dev/small"}``; the corpus is
    read from the first one.
    """
    try:
        import ir_datasets
    except ImportError:
        raise ImportError(
            f"{name}: data.route is 'ir_datasets' but the package is not installed; "
            "`pip install ir_datasets` or use data.route 'files'"
        ) from None
    corpus: dict[str, str] = {}
    splits: dict[str, Split] = {}
    for i, (split, ds_id) in enumerate(dataset_ids.items()):
        ds = ir_datasets.load(ds_id)
        if i == 0:
            corpus = {d.doc_id: d.text for d in tqdm(ds.docs_iter(), desc=f"{ds_id} docs", mininterval=2)}
        qrels: dict[str, list[str]] = {}
        for r in ds.qrels_iter():
            if r.relevance >= min_relevance:
                qrels.setdefault(r.query_id, []).append(r.doc_id)
        queries = {q.query_id: q.text for q in ds.queries_iter() if q.query_id in qrels}
        splits[split] = Split(queries=queries, qrels=qrels)
    dataset = RetrievalDataset(name=name, corpus=corpus, splits=splits)
    dataset.check()
    return dataset
