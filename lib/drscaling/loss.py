"""The paper's contrastive objective, computed from embeddings alone (testable without a model)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def contrastive_loss(query_emb: torch.Tensor, positive_emb: torch.Tensor, negative_emb: torch.Tensor,
                     positive_ids: torch.Tensor, negative_ids: torch.Tensor, in_batch: bool = True) -> torch.Tensor:
    """Mean cross-entropy of each query's positive against the negatives shared by the batch
    (and, with ``in_batch``, the other queries' positives); score = inner product.

    ``positive_ids`` (B,) and ``negative_ids`` (K,) identify passages (corpus rows): a passage
    that is a query's own positive is never one of its negatives, whether it comes in as
    another query's positive or as a sampled negative.
    """
    own = positive_ids[:, None]
    neg_scores = query_emb @ negative_emb.T  # (B, K)
    neg_scores = neg_scores.masked_fill(negative_ids[None, :] == own, float("-inf"))
    if in_batch:
        pos_scores = query_emb @ positive_emb.T  # (B, B); the diagonal is each query's positive
        same = (positive_ids[None, :] == own) & ~torch.eye(len(own), dtype=torch.bool, device=own.device)
        pos_scores = pos_scores.masked_fill(same, float("-inf"))
        target = torch.arange(len(own), device=own.device)
    else:
        pos_scores = (query_emb * positive_emb).sum(-1, keepdim=True)  # (B, 1)
        target = torch.zeros(len(own), dtype=torch.long, device=own.device)
    scores = torch.cat([pos_scores, neg_scores], dim=1).float()
    return F.cross_entropy(scores, target)
