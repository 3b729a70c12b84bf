"""Tokenised text: each dataset's queries and passages tokenised once and cached as padded
integer arrays; a batch is sliced from them and trimmed to its longest row (dynamic padding)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from .config import TrainingConfig
from .fileio import atomic_path


def run_tokenizer(model_spec: dict, data) -> tuple[object, str]:
    """(tokenizer, its name) of a run: a pretrained checkpoint's own, else the WordPiece
    vocabulary notebook 01 trained on the dataset."""
    if "pretrained" in model_spec:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(model_spec["pretrained"]), model_spec["pretrained"]
    return data.tokenizer(), "wordpiece"


@dataclass
class Tokens:
    """Texts tokenised once: ids (N, max_len) int32, padded with 0; lengths (N,)."""

    ids: np.ndarray
    lengths: np.ndarray

    def batch(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows as (input_ids, attention_mask), trimmed to the longest row (dynamic padding)."""
        width = int(self.lengths[rows].max())
        ids = torch.from_numpy(self.ids[rows, :width].astype(np.int64))
        mask = (torch.arange(width)[None, :] < torch.from_numpy(self.lengths[rows])[:, None]).long()
        return ids, mask


def stacked_batch(*parts: tuple[Tokens, np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of several token arrays (same max length) as one batch, trimmed to its longest row:
    a batch's positives and its shared negatives go through the encoder together."""
    if len({tokens.ids.shape[1] for tokens, _ in parts}) != 1:
        raise ValueError("stacked_batch: the token arrays differ in max length")
    width = max(int(tokens.lengths[rows].max()) for tokens, rows in parts if len(rows))
    ids = torch.from_numpy(np.concatenate([tokens.ids[rows, :width] for tokens, rows in parts]).astype(np.int64))
    lengths = torch.from_numpy(np.concatenate([tokens.lengths[rows] for tokens, rows in parts]))
    mask = (torch.arange(width)[None, :] < lengths[:, None]).long()
    return ids, mask


def tokenize(texts: list[str], tokenizer, max_length: int, batch: int = 4096) -> Tokens:
    ids = np.zeros((len(texts), max_length), dtype=np.int32)
    lengths = np.zeros(len(texts), dtype=np.int64)
    starts = range(0, len(texts), batch)
    for start in tqdm(starts, desc="tokenise", unit="batch", disable=len(starts) < 3, leave=False, mininterval=2):
        enc = tokenizer(texts[start:start + batch], truncation=True, max_length=max_length)["input_ids"]
        for i, row in enumerate(enc, start):
            ids[i, : len(row)] = row
            lengths[i] = len(row)
    if tokenizer.pad_token_id not in (0, None):
        ids[np.arange(max_length)[None, :] >= lengths[:, None]] = tokenizer.pad_token_id
    return Tokens(ids, lengths)


def cached_tokens(data, kind: str, texts: list[str], tokenizer, tokenizer_name: str, max_length: int) -> Tokens:
    """Tokenise once per (dataset, tokenizer, kind, length); the cache lives beside the
    processed data (and goes with it when it is prepared again)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in tokenizer_name)
    path = data.dir / "cache" / f"{safe}-{kind}-{max_length}.npz"
    if path.is_file():
        with np.load(path) as z:
            if len(z["lengths"]) == len(texts):
                return Tokens(z["ids"], z["lengths"])
    tokens = tokenize(texts, tokenizer, max_length)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, ids=tokens.ids, lengths=tokens.lengths)
    return tokens


@dataclass
class RunTexts:
    """A run's tokenised texts: every query and every corpus passage (cached per dataset and
    tokenizer), and the maps from query and passage ids to their rows."""

    tokenizer: object
    queries: Tokens
    passages: Tokens
    query_row: dict
    corpus_row: dict


def run_texts(data, model_spec: dict, cfg: TrainingConfig) -> RunTexts:
    tokenizer, name = run_tokenizer(model_spec, data)
    queries = data.all_queries
    passages = cached_tokens(data, "passages", data.corpus["text"].tolist(), tokenizer, name, cfg.max_passage_length)
    return RunTexts(tokenizer,
                    cached_tokens(data, "queries", queries["text"].tolist(), tokenizer, name, cfg.max_query_length),
                    passages, {q: i for i, q in enumerate(queries["qid"])},
                    {p: i for i, p in enumerate(data.corpus["pid"])})
