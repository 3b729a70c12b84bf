"""Seconds per training step of one DualEncoder shape on this CPU, eager or torch.compile'd,
fp32 or bf16 autocast: the measurements behind the notes on making a CPU step cheaper.

    python scripts/bench_step.py [--layers 2 --hidden 128 --batch 64] [--negatives 64] [--threads 1]
        [--passage-length 48] [--attention-dropout 0] [--compile] [--bf16] [--profile] [--matmul]

Random token ids (query 12-24 tokens, passage --passage-length, 64), in-batch negatives plus --negatives shared
random ones (the cpu profile: 64), AdamW; three warm-up steps (which include compilation), then
the mean of --steps steps.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from drscaling.model import DualEncoder
from drscaling.loss import contrastive_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--negatives", type=int, default=0, help="shared negatives per step")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compile", action="store_true", help="torch.compile(encode, dynamic=True)")
    parser.add_argument("--bf16", action="store_true", help="CPU bf16 autocast")
    parser.add_argument("--passage-length", type=int, default=64, help="passage tokens (the cpu profile: 64)")
    parser.add_argument("--attention-dropout", type=float, default=None,
                        help="the attention-probability dropout (default: BERT's 0.1)")
    parser.add_argument("--profile", action="store_true", help="then print torch.profiler's top operators over 5 steps")
    parser.add_argument("--matmul", action="store_true",
                        help="then the GFLOP/s of this shape's matrix products alone, fp32 and bf16")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.attention_dropout is not None:  # a BERT config with another attention dropout
        import drscaling.model as model_module

        base_config = model_module.bert_config

        def bert_config(*a, **k):
            config = base_config(*a, **k)
            config.attention_probs_dropout_prob = args.attention_dropout
            return config

        model_module.bert_config = bert_config
    model = DualEncoder.from_shape(args.layers, args.hidden, 8192, 768, seed=0).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    encode = torch.compile(model.encode, dynamic=True) if args.compile else model.encode
    b = args.batch

    def step(query_len: int) -> None:
        passage_len = args.passage_length
        k = args.negatives
        q_ids, p_ids = torch.randint(5, 8000, (b, query_len)), torch.randint(5, 8000, (b + k, passage_len))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            q = encode(q_ids, torch.ones_like(q_ids))
            p = encode(p_ids, torch.ones_like(p_ids))
        ids = torch.arange(b + k)
        loss = contrastive_loss(q.float(), p[:b].float(), p[b:].float(), ids[:b], ids[b:], True)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    t0 = time.time()
    for n in (14, 16, 18):
        step(n)
    warm = time.time() - t0
    rng = np.random.default_rng(0)
    t0 = time.time()
    for _ in range(args.steps):
        step(int(rng.integers(12, 24)))
    per_step = (time.time() - t0) / args.steps
    print(f"L{args.layers}-H{args.hidden} batch {b} + {args.negatives} negatives {'compiled' if args.compile else 'eager'} "
          f"{'bf16' if args.bf16 else 'fp32'}: {per_step:.4f} s/step, {b / per_step:.0f} pairs/s "
          f"(warm-up {warm:.1f} s), {args.threads} threads, passages {args.passage_length} tokens"
          + ("" if args.attention_dropout is None else f", attention dropout {args.attention_dropout}"))
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(5):
                step(18)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))
    if args.matmul:  # a batch of 64-token passages times the layers' weight matrices
        h, tokens = args.hidden, (b + args.negatives) * 64
        for m, k, n in [(tokens, h, h), (tokens, h, 4 * h), (tokens, 4 * h, h)]:
            for dtype in (torch.float32, torch.bfloat16):
                x, w = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
                x @ w
                t0 = time.time()
                for _ in range(20):
                    x @ w
                print(f"matmul {m}x{k} @ {k}x{n} {dtype}: {2 * m * k * n * 20 / (time.time() - t0) / 1e9:.0f} GFLOP/s")


if __name__ == "__main__":
    main()
