"""Does training the local query generator fit the cpu profile? (It did not: 0.68-1.14 s a step,
so the cpu-annotation profile trains it; research/design-log.md, "The learning rate per shape".)

Seconds per training step of the local query generator (drscaling.annotation.generator) on a
profile's prepared data: the same model, batches and optimiser as ``train_seq2seq``, timed
over ``--steps`` steps after ``--warmup`` untimed ones, for each passage length asked.

    python research/bench_generator.py --profile cpu [--lengths 64 128] [--threads 1] [--steps 10]

Prints one JSON line per length: median and quartiles of the step time, and the minutes the
configured number of training steps would take at that rate.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--lengths", nargs="+", type=int, default=[64, 128], help="max passage lengths (tokens)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()

    import torch

    from drscaling.config import load_profile
    from drscaling.datasets import ProcessedData
    from drscaling.annotation.generator import GeneratorConfig, _batch, _encode, build_model, training_pairs

    data = ProcessedData(load_profile(args.profile).processed_dir)
    tokenizer = data.tokenizer()
    for length in args.lengths:
        cfg = dataclasses.replace(GeneratorConfig(), max_passage_length=length, threads=args.threads)
        torch.set_num_threads(cfg.threads)
        pairs = training_pairs(data).head(cfg.batch_size * (args.steps + args.warmup))
        sources = _encode(tokenizer, pairs["passage"].tolist(), cfg.max_passage_length)
        targets = _encode(tokenizer, pairs["question"].tolist(), cfg.max_query_length)
        model = build_model(tokenizer, cfg).train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=0.01)
        times = []
        for step in range(args.warmup + args.steps):
            rows = np.arange(step * cfg.batch_size, (step + 1) * cfg.batch_size)
            src, mask, labels = _batch(sources, targets, rows, tokenizer.pad_token_id)
            started = time.perf_counter()
            loss = model(input_ids=src, attention_mask=mask, labels=labels).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            if step >= args.warmup:
                times.append(time.perf_counter() - started)
        q1, median, q3 = np.percentile(times, [25, 50, 75])
        print(json.dumps({"max_passage_length": length, "batch_size": cfg.batch_size, "threads": cfg.threads,
                          "d_model": cfg.d_model, "layers": cfg.layers, "seconds_per_step": round(float(median), 3),
                          "quartiles": [round(float(q1), 3), round(float(q3), 3)], "timed_steps": len(times),
                          "minutes_for_configured_steps": round(float(median) * cfg.steps / 60, 1),
                          "configured_steps": cfg.steps}), flush=True)


if __name__ == "__main__":
    main()
