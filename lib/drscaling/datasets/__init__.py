"""Dataset loaders: every source becomes one :class:`RetrievalDataset` (corpus, queries, qrels)."""

from .base import DataFormatError, RetrievalDataset, Split, merge
from .beir import load_beir
from .msmarco import load_msmarco
from .processed import ProcessedData, prepare_dataset
from .squad import load_squad
from .t2ranking import load_t2ranking

__all__ = [
    "DataFormatError", "RetrievalDataset", "Split", "merge", "load_squad", "load_msmarco",
    "load_t2ranking", "load_beir", "prepare_dataset", "ProcessedData",
]
