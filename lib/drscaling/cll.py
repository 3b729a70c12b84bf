"""The paper's metric: contrastive log-likelihood (CLL; "contrastive entropy" in the final
version). For a query q, its positive p+ and K sampled negatives, with score s = inner product:

    CLL(q) = -log( exp(s(q, p+)) / (exp(s(q, p+)) + sum_k exp(s(q, n_k))) )

averaged over R independent draws of the K negatives and then over pairs. Chance level (all
scores equal) is log(K + 1): 5.55 for K = 256.
"""

from __future__ import annotations

import numpy as np
import torch


def contrastive_log_likelihood(query_emb, positive_emb, negative_emb) -> np.ndarray:
    """Per-query CLL from embeddings (Q, d), (Q, d), (Q, K, d): ``-log softmax`` of the
    positive among the K + 1 scores, computed in float64 with log-sum-exp."""
    q = torch.as_tensor(query_emb).double()
    p = torch.as_tensor(positive_emb).double()
    n = torch.as_tensor(negative_emb).double()
    if q.ndim != 2 or p.shape != q.shape or n.ndim != 3 or n.shape[0] != q.shape[0] or n.shape[2] != q.shape[1]:
        raise ValueError(f"expected shapes (Q, d), (Q, d), (Q, K, d); got {tuple(q.shape)}, {tuple(p.shape)}, {tuple(n.shape)}")
    pos = (q * p).sum(-1, keepdim=True)  # (Q, 1)
    neg = torch.einsum("qd,qkd->qk", q, n)  # (Q, K)
    scores = torch.cat([pos, neg], dim=1)
    return (torch.logsumexp(scores, dim=1) - pos[:, 0]).numpy()


def cll_from_draws(query_emb, positive_emb, passage_emb, draws, chunk: int = 512) -> np.ndarray:
    """Per-pair CLL averaged over repeated draws.

    ``draws`` (pairs, repeats, K) holds row indices into ``passage_emb`` (the stored draw of
    data preparation); pair i uses ``query_emb[i]`` and ``positive_emb[i]``. Returns (pairs,)
    float64: for each pair the mean over its R repeats (as the paper's code did). Scores are
    computed in the dtype of ``passage_emb``, the log-sum-exp in float64.
    """
    # Scores in the embeddings' own precision (float32 from a model: one matrix product over
    # every passage per chunk of queries is the costly part); log-sum-exp in float64.
    passages = torch.as_tensor(passage_emb)
    q = torch.as_tensor(query_emb).to(passages.dtype)
    p = torch.as_tensor(positive_emb).to(passages.dtype)
    draws = np.asarray(draws)
    n_pairs, repeats, k = draws.shape
    out = np.empty(n_pairs, dtype=np.float64)
    for start in range(0, n_pairs, chunk):
        stop = min(start + chunk, n_pairs)
        idx = torch.as_tensor(np.ascontiguousarray(draws[start:stop]), dtype=torch.long)  # (c, R, K)
        qc, pc = q[start:stop], p[start:stop]
        pos = (qc * pc).sum(-1).double()  # (c,)
        all_scores = passages @ qc.T  # (P, c): every passage once, then gathered
        neg = all_scores.T.gather(1, idx.reshape(stop - start, repeats * k)).reshape(stop - start, repeats, k).double()
        scores = torch.cat([pos[:, None, None].expand(-1, repeats, 1), neg], dim=2)
        out[start:stop] = (torch.logsumexp(scores, dim=2) - pos[:, None]).mean(1).numpy()
    return out
