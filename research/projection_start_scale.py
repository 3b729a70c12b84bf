"""How wide a new model's scores are before any training, by projection init and width
(research/design-log.md, "The projection's scale at the start").

Random token ids (64 queries of 20 tokens, 64 passages of 60), each query's positive the passage
of its row; for L1-H8..H128 and seeds 0-3, the standard deviation of the query-centred scores
(the per-query constant cancels in the softmax) and the in-batch loss against chance, log 64.

    python research/projection_start_scale.py
"""

from __future__ import annotations

import argparse
import math
import statistics

import torch

from drscaling.model import DualEncoder

KINDS = ("torch", "bert", "xavier")


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    queries, passages = torch.randint(5, 8192, (64, 20), generator=gen), torch.randint(5, 8192, (64, 60), generator=gen)
    print(f"{'shape':7} {'init':7} {'score sd':>8} {'loss':>6} (chance {math.log(64):.2f}; means of seeds 0-3)")
    for hidden in (8, 16, 32, 64, 128):
        for kind in KINDS:
            sds, losses = [], []
            for seed in range(4):
                model = DualEncoder.from_shape(1, hidden, 8192, seed=seed)
                if kind != "torch":
                    model.init_projection(kind)
                model.eval()
                with torch.no_grad():
                    scores = model.encode(queries, torch.ones_like(queries)) @ model.encode(passages, torch.ones_like(passages)).T
                sds.append(float((scores - scores.mean(1, keepdim=True)).std()))
                losses.append(float(torch.nn.functional.cross_entropy(scores, torch.arange(64))))
            print(f"L1-H{hidden:<4} {kind:7} {statistics.mean(sds):8.3f} {statistics.mean(losses):6.2f}")


if __name__ == "__main__":
    main()
