"""The dual encoder: one shared BERT backbone for queries and passages, mean pooling over the
last layer, a linear projection to 768 dimensions; score = inner product (no temperature).

Checkpoints are safetensors files plus a small JSON config: loading one never unpickles
anything. (A hub checkpoint that ships only ``pytorch_model.bin`` is read by transformers with
``torch.load(weights_only=True)``, the restricted unpickler.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:  # annotations only
    import pandas

CHECKPOINT_WEIGHTS = "model.safetensors"
CHECKPOINT_CONFIG = "encoder.json"
ATTENTION = "drscaling"  # our attention function's name in transformers' registry (below)


# ---------------------------------------------------------------- dropout on the CPU
# torch's CPU dropout draws one Mersenne-Twister Bernoulli per element: a fifth of a small
# model's training step here (scripts/bench_step.py --profile). The same dropout with the mask
# drawn as 16-bit integers by numpy's PCG64 is about 3x cheaper. Each mask's PCG64 seed is drawn
# from torch's generator, so a run stays a function of torch.manual_seed (the trainer seeds
# every step). On a GPU torch's own dropout is used.

def dropout_mask(shape: tuple[int, ...], p: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A CPU dropout mask: 0 with probability ``p`` (to 1/65536), else 1 / (1 - p') where p' is
    that quantised probability, so that the mask's expectation is exactly 1."""
    drop = round(p * 65536)
    seed = int(torch.randint(0, 2**62, (1,)).item())
    bits = np.random.Generator(np.random.PCG64(seed)).integers(0, 65536, int(np.prod(shape)), dtype=np.uint16)
    # as int16 the draws are uniform over [-32768, 32767]: P(bits < drop - 32768) = drop / 65536
    keep = torch.from_numpy(bits.view(np.int16)).view(shape) >= drop - 32768
    return keep.to(dtype).mul_(65536 / (65536 - drop))


class Dropout(nn.Dropout):
    """``nn.Dropout`` with :func:`dropout_mask` on the CPU (same p, same expectation)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0 or x.device.type != "cpu":
            return super().forward(x)
        return x * dropout_mask(tuple(x.shape), self.p, x.dtype)


def attention(module, query, key, value, attention_mask, scaling=None, dropout: float = 0.0, **kwargs):
    """transformers' SDPA attention, except when training with attention dropout on the CPU
    (where SDPA falls back to its math path and torch's slow dropout): the same maths with
    :func:`dropout_mask`. ``attention_mask`` is SDPA's boolean mask (True: attend) or None."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if dropout == 0.0 or query.device.type != "cpu":
        return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout,
                                      **kwargs)
    scaling = query.size(-1) ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        scores = scores.masked_fill(~attention_mask, torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores, dim=-1) * dropout_mask(tuple(scores.shape), dropout, scores.dtype)
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), None


def _register_attention() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(ATTENTION, attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(ATTENTION, sdpa_mask)


def use_fast_dropout(backbone: nn.Module) -> nn.Module:
    """Swap every ``nn.Dropout`` of a transformers model for :class:`Dropout` and its attention
    for :func:`attention` (in place; weights and eval-mode outputs unchanged)."""
    _register_attention()
    for module in list(backbone.modules()):
        for name, child in list(module.named_children()):
            if type(child) is nn.Dropout:
                setattr(module, name, Dropout(child.p))
    backbone.set_attn_implementation(ATTENTION)
    return backbone


def set_dropout(model: nn.Module, p: float) -> nn.Module:
    """Every dropout layer of ``model`` (hidden and attention: BERT's attention reads its
    layer's ``p``) set to ``p``, and the backbone's config with it, so a saved checkpoint says
    what it was trained with. In place."""
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = p
    config = getattr(getattr(model, "backbone", model), "config", None)
    if config is not None:
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            if hasattr(config, name):
                setattr(config, name, p)
    return model


def bert_config(layers: int, hidden: int, vocab_size: int, max_positions: int = 512):
    """A BERT shape as in the BERT miniatures: heads = hidden / 64 (at least 2),
    feed-forward 4 x hidden."""
    from transformers import BertConfig

    heads = max(2, hidden // 64)
    if hidden % heads:
        raise ValueError(f"hidden size {hidden} is not divisible by its {heads} attention heads")
    return BertConfig(
        vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        intermediate_size=4 * hidden, max_position_embeddings=max_positions, attn_implementation="sdpa",
    )


class DualEncoder(nn.Module):
    """``encode(input_ids, attention_mask) -> (batch, projection_dim)``; the same for queries
    and passages."""

    def __init__(self, backbone, projection_dim: int = 768):
        super().__init__()
        self.backbone = use_fast_dropout(backbone)
        self.projection = nn.Linear(backbone.config.hidden_size, projection_dim)

    @classmethod
    def from_shape(cls, layers: int, hidden: int, vocab_size: int, projection_dim: int = 768,
                   max_positions: int = 512, seed: int | None = None) -> "DualEncoder":
        """A randomly initialised BERT of the given shape (``seed`` fixes the initialisation)."""
        from transformers import BertModel

        if seed is not None:
            torch.manual_seed(seed)
        return cls(BertModel(bert_config(layers, hidden, vocab_size, max_positions), add_pooling_layer=False),
                   projection_dim)

    @classmethod
    def from_pretrained(cls, name_or_path: str, projection_dim: int = 768, seed: int | None = None) -> "DualEncoder":
        """A pretrained BERT (local folder or hub id); the projection is new."""
        from transformers import AutoModel

        if seed is not None:
            torch.manual_seed(seed)
        backbone = AutoModel.from_pretrained(name_or_path, add_pooling_layer=False, attn_implementation="sdpa")
        return cls(backbone, projection_dim)

    def init_projection(self, kind: str) -> "DualEncoder":
        """Re-draw the projection: ``torch`` (nn.Linear's own uniform +-1/sqrt(H)), ``bert``
        (normal with the backbone's initializer_range, zero bias) or ``xavier`` (Glorot's normal,
        zero bias). Draws from torch's generator
        after the backbone's, so a seed's backbone is the same under either."""
        if kind == "bert":
            nn.init.normal_(self.projection.weight, std=self.backbone.config.initializer_range)
            nn.init.zeros_(self.projection.bias)
        elif kind == "xavier":  # normal, std sqrt(2 / (H + 768)): about 0.05 at every small width
            nn.init.xavier_normal_(self.projection.weight)
            nn.init.zeros_(self.projection.bias)
        elif kind == "torch":
            self.projection.reset_parameters()
        else:
            raise ValueError(f"projection init: expected torch, bert or xavier, got {kind!r}")
        return self

    def pool(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean of the last layer over the real tokens: (batch, hidden), before the projection."""
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.projection(self.pool(input_ids, attention_mask))

    forward = encode

    # ------------------------------------------------------------ scoring in the hidden width
    # score(q, p) = (W a + b) . (W c + b) for pooled a (query) and c (passage), W the projection
    # (768 x H), b its bias: = [a, 1] . [M c + u, u . c + b . b] with M = W^T W, u = W^T b. So
    # scores need only H + 1 numbers per text: the evaluation's matrix products over the whole
    # corpus are 768 / (H + 1) times cheaper (12x at H = 64), with the same scores up to rounding.

    def compact_dim(self) -> int:
        return self.projection.in_features + 1

    @torch.no_grad()
    def compact(self, pooled: torch.Tensor, side: str) -> torch.Tensor:
        """Pooled vectors (batch, H) -> (batch, H + 1) whose inner products across sides are the
        scores of :meth:`encode`'s embeddings. ``side``: "query" or "passage"."""
        pooled = pooled.float()
        if side == "query":
            return torch.cat([pooled, torch.ones(len(pooled), 1, device=pooled.device)], dim=1)
        if side != "passage":
            raise ValueError(f"side: expected query or passage, got {side!r}")
        w, b = self.projection.weight.double(), self.projection.bias.double()
        m, u = (w.T @ w), (w.T @ b)
        c = pooled.double()
        return torch.cat([c @ m + u, (c @ u + b @ b)[:, None]], dim=1).float()

    # ------------------------------------------------------------ checkpoints
    def save(self, directory: str | Path) -> None:
        """Weights (safetensors) and the backbone's config, written atomically."""
        from safetensors.torch import save_file

        from .fileio import atomic_path, write_json

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        with atomic_path(directory / CHECKPOINT_WEIGHTS) as tmp:
            save_file(state, str(tmp))
        write_json(directory / CHECKPOINT_CONFIG, {
            "backbone": self.backbone.config.to_dict(), "projection_dim": self.projection.out_features,
        })

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu") -> "DualEncoder":
        from safetensors.torch import load_file
        from transformers import AutoConfig, AutoModel

        directory = Path(directory)
        meta = json.loads((directory / CHECKPOINT_CONFIG).read_text())
        # the backbone's own class (BERT, ERNIE, ...), from the model_type its config records
        backbone = dict(meta["backbone"])
        config = AutoConfig.for_model(backbone.pop("model_type", "bert"), **backbone)
        model = cls(AutoModel.from_config(config, add_pooling_layer=False), meta["projection_dim"])
        model.load_state_dict(load_file(str(directory / CHECKPOINT_WEIGHTS), device=str(device)))
        return model.to(device)


def count_nonembedding_params(model: DualEncoder) -> int:
    """Exact count of every parameter but the token, position and token-type embeddings (and
    the embeddings' LayerNorm, which belongs to the embedding block): the transformer layers
    plus the projection. BERT-base shape: 85,054,464 + 590,592 = 85,645,056."""
    embeddings = {id(p) for p in model.backbone.embeddings.parameters()}
    return sum(p.numel() for p in model.parameters() if id(p) not in embeddings)


def parameter_breakdown(model: DualEncoder) -> dict:
    """Where a dual encoder's parameters are: ``embedding`` (token, position and token-type
    embeddings and their LayerNorm: not part of N), ``layers`` (the transformer layers),
    ``projection`` (the H -> 768 linear layer), ``N`` = layers + projection (the paper's
    non-embedding count, :func:`count_nonembedding_params`) and ``projection_share`` of N."""
    embedding = sum(p.numel() for p in model.backbone.embeddings.parameters())
    projection = sum(p.numel() for p in model.projection.parameters())
    n = count_nonembedding_params(model)
    return {"embedding": embedding, "layers": n - projection, "projection": projection, "N": n,
            "projection_share": projection / n}


def shape_table(shapes, vocab_size: int, projection_dim: int = 768) -> "pandas.DataFrame":
    """:func:`parameter_breakdown` of each shape built from scratch (mappings with ``layers``
    and ``hidden``; pretrained checkpoints are left out), one row per distinct shape, by N."""
    import pandas as pd

    rows = {}
    for shape in shapes:
        if "layers" not in shape or "hidden" not in shape:
            continue
        key = (shape["layers"], shape["hidden"])
        if key not in rows:
            model = DualEncoder.from_shape(*key, vocab_size=vocab_size, projection_dim=projection_dim, seed=0)
            rows[key] = {"shape": f"L{key[0]}-H{key[1]}", **parameter_breakdown(model)}
    return pd.DataFrame(sorted(rows.values(), key=lambda r: r["N"]))


def count_params_as_paper_code(model: DualEncoder) -> int:
    """The count as the paper's released code made it: ``sum(p.numel() for n, p in
    named_parameters() if 'embedding' not in n)`` over a BERT that still had its (unused)
    pooler, plus the projection. That is our count plus the pooler (hidden^2 + hidden).
    (The released code printed it divided by 1024^2 as "M".)"""
    hidden = model.backbone.config.hidden_size
    return count_nonembedding_params(model) + hidden * hidden + hidden
