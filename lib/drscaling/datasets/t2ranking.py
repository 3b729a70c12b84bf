"""T2Ranking (Chinese passage ranking), from its official TSV files.

Files (from the dataset's release): ``collection.tsv`` (pid, passage), ``queries.train.tsv`` /
``queries.dev.tsv`` (qid, query) and the retrieval qrels ``qrels.retrieval.train.tsv`` /
``qrels.retrieval.dev.tsv`` (qid, pid). The dev set is the test split (test qrels are not public).
"""

from __future__ import annotations

from pathlib import Path

from .base import RetrievalDataset
from .tsv import load_tsv_dataset

DEFAULT_FILES = {
    "collection": "collection.tsv",
    "train_queries": "queries.train.tsv",
    "train_qrels": "qrels.retrieval.train.tsv",
    "test_queries": "queries.dev.tsv",
    "test_qrels": "qrels.retrieval.dev.tsv",
}


def load_t2ranking(directory: str | Path, files: dict[str, str] | None = None) -> RetrievalDataset:
    return load_tsv_dataset("t2ranking", directory, {**DEFAULT_FILES, **(files or {})})
