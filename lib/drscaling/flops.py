"""Floating-point operations of the dual encoder, counted from its shape: the matrix products
of a BERT layer, the projection and the batch's scores. One multiply-add is 2 FLOPs; a training
step is three forward passes' worth (the backward pass computes the gradients of both the inputs
and the weights of every product: twice the forward). Element-wise work (softmax, LayerNorm,
GELU, dropout, the optimizer) is left out, as in every model-FLOP count: it is memory traffic,
not arithmetic the hardware's peak is quoted for.

``tests/test_flops.py`` checks these counts against torch's own FLOP counter
(``torch.utils.flop_counter.FlopCounterMode``) on the real model.
"""

from __future__ import annotations

from collections.abc import Iterable


def layer_forward_flops(length: int, hidden: int, intermediate: int | None = None) -> int:
    """One BERT layer over one sequence of ``length`` tokens: Q, K, V and the attention output
    (4 products of H x H), the feed-forward (H x I and I x H), and the attention itself (scores
    and weighted values: 2 products of length x length x H, whatever the number of heads)."""
    i = 4 * hidden if intermediate is None else intermediate
    return 2 * length * (4 * hidden * hidden + 2 * hidden * i) + 4 * length * length * hidden


def encode_forward_flops(lengths: Iterable[int], layers: int, hidden: int, intermediate: int | None = None,
                         projection_dim: int = 768) -> int:
    """Encoding sequences of the given lengths (padding included, as computed): every layer
    over every sequence, then the pooled vector through the H -> projection_dim projection."""
    total = 0
    for s in lengths:
        total += layers * layer_forward_flops(int(s), hidden, intermediate) + 2 * hidden * projection_dim
    return total


def train_step_flops(layers: int, hidden: int, batch_size: int, query_length: int, passages: int,
                     passage_length: int, intermediate: int | None = None, projection_dim: int = 768,
                     scored: int | None = None) -> int:
    """One training step: ``batch_size`` queries of ``query_length`` tokens and ``passages``
    passages (positives and shared negatives) of ``passage_length``, encoded; each query scored
    against ``scored`` of them (default: all, as with in-batch negatives; the shared negatives
    alone without them); forward and backward (3x the forward)."""
    scored = passages if scored is None else scored
    forward = (encode_forward_flops([query_length] * batch_size, layers, hidden, intermediate, projection_dim)
               + encode_forward_flops([passage_length] * passages, layers, hidden, intermediate, projection_dim)
               + 2 * batch_size * scored * projection_dim)
    return 3 * forward


def matmul_flops(m: int, k: int, n: int) -> int:
    """An (m x k) @ (k x n) product."""
    return 2 * m * k * n
