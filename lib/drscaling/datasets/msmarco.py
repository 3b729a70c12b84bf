"""MS MARCO passage ranking, from its official files or through ir_datasets.

Official files (from the MS MARCO site): ``collection.tsv``, ``queries.train.tsv``,
``qrels.train.tsv``, ``queries.dev.small.tsv``, ``qrels.dev.small.tsv``. As in the paper, the
dev small set is the test split; validation is held out of train by data preparation.
"""

from __future__ import annotations

from pathlib import Path

from .base import RetrievalDataset
from .tsv import load_ir_datasets, load_tsv_dataset

DEFAULT_FILES = {
    "collection": "collection.tsv",
    "train_queries": "queries.train.tsv",
    "train_qrels": "qrels.train.tsv",
    "test_queries": "queries.dev.small.tsv",
    "test_qrels": "qrels.dev.small.tsv",
}
IR_DATASETS_IDS = {"train": "msmarco-passage/train", "test": "msmarco-passage/dev/small"}


def load_msmarco(directory: str | Path, files: dict[str, str] | None = None) -> RetrievalDataset:
    return load_tsv_dataset("msmarco-passage", directory, {**DEFAULT_FILES, **(files or {})})


def load_msmarco_ir_datasets(dataset_ids: dict[str, str] | None = None) -> RetrievalDataset:
    return load_ir_datasets("msmarco-passage", dataset_ids or IR_DATASETS_IDS)
