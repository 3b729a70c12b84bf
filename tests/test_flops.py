"""drscaling.flops: the dual encoder's FLOPs from its shape, against a hand-worked layer and
torch's own FLOP counter on the real model (forward, and a training step's forward + backward)."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from drscaling.flops import encode_forward_flops, layer_forward_flops, matmul_flops, train_step_flops
from drscaling.model import DualEncoder
from drscaling.loss import contrastive_loss


def test_one_layer_worked_by_hand():
    # length 2, H 2, I 8: Q, K, V, output 4 x (2 x 2 x 2 x 2) = 64; feed-forward 2 x (2 x 2 x 2 x 8) = 128;
    # scores and weighted values 2 x (2 x 2 x 2 x 2) = 32
    assert layer_forward_flops(2, 2, 8) == 64 + 128 + 32
    assert layer_forward_flops(3, 4) == layer_forward_flops(3, 4, 16)  # I = 4H by default
    assert matmul_flops(2, 3, 4) == 48


def counted(fn) -> int:
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return counter.get_total_flops()


@pytest.mark.parametrize("layers, hidden, lengths", [(1, 32, [5, 5, 5]), (2, 64, [12, 12])])
def test_forward_matches_torchs_counter(layers, hidden, lengths):
    model = DualEncoder.from_shape(layers, hidden, 100, seed=0)
    ids = torch.randint(1, 100, (len(lengths), lengths[0]))
    got = counted(lambda: model.encode(ids, torch.ones_like(ids)))
    assert got == encode_forward_flops(lengths, layers, hidden)


@pytest.mark.parametrize("in_batch", [True, False])
def test_training_step_matches_torchs_counter(in_batch):
    layers, hidden, b, k, lq, lp = 2, 32, 4, 6, 7, 11
    model = DualEncoder.from_shape(layers, hidden, 100, seed=0)
    q_ids, p_ids = torch.randint(1, 100, (b, lq)), torch.randint(1, 100, (b + k, lp))

    def step():
        q = model.encode(q_ids, torch.ones_like(q_ids))
        p = model.encode(p_ids, torch.ones_like(p_ids))
        contrastive_loss(q, p[:b], p[b:], torch.arange(b), torch.arange(b, b + k), in_batch).backward()

    expected = train_step_flops(layers, hidden, b, lq, b + k, lp, scored=None if in_batch else k)
    assert counted(step) == expected
