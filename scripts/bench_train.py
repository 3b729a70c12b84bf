"""Training throughput of our trainer against sentence-transformers' own trainer, side by side
on this machine: the same BERT shape trained from scratch, the same batch of (query, passage)
pairs with in-batch negatives only (MultipleNegativesRankingLoss's objective), the same maximum
length and the same SQuAD training pairs. Both trainers run in fp32 and with bf16 autocast
(sentence-transformers: ``bf16=True``; ours: ``training.cpu_bf16``); the headline ratio compares
each as the profile configures it (ours: the profile's cpu_bf16; sentence-transformers: its
default, fp32), and the same-precision ratios are reported beside it. On a CPU without bf16
instructions (AVX512-BF16 or AMX) bf16 is not measured: our trainer trains in fp32 there, and
autocast would only emulate bf16.

Beside the rates: our trainer's model FLOP rate (drscaling.flops at the widths its batches are
padded to, times its steps per second) against this machine's measured matrix-multiply peak
(the best of the products it times: squares of 1,024-4,096 and the shape's own largest product,
its feed-forward layer over a batch's passage tokens; fp32, and bf16 where available), so that
the distance to the hardware's limit is a number. Writes outputs/bench/bench.json and prints it.

    python scripts/bench_train.py [--profile cpu] [--layers 2 --hidden 128 --batch 64 --steps 60]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from dataclasses import asdict
from types import SimpleNamespace

import numpy as np
import torch

from drscaling import paths
from drscaling.config import TrainingConfig, load_profile
from drscaling.datasets import ProcessedData
from drscaling.fileio import write_json
from drscaling.provenance import cpu_model

WARMUP_STEPS = 5  # steps of each trainer left out of its timing


def ours(data, args, bf16: bool) -> float:
    """Pairs per second of drscaling.train after WARMUP_STEPS steps, by its own clock: the same
    run trained for WARMUP_STEPS and for WARMUP_STEPS + ``steps`` steps (same seed, so the same
    first steps); the difference of their training times is the ``steps`` steps alone (start-up,
    the first steps and the end-of-run check and checkpoint cancel). The first run also fills
    the tokenisation cache, so that both sides start from text in memory."""
    from drscaling.train import train_and_evaluate

    seconds = []
    for steps in (WARMUP_STEPS, WARMUP_STEPS + args.steps):
        training = TrainingConfig(steps=steps, batch_size=args.batch, negatives=0, in_batch_negatives=True,
                                  learning_rate=1e-3, warmup_steps=5, max_query_length=args.length,
                                  max_passage_length=args.length, eval_every=steps, eval_pairs=32, eval_pool=64,
                                  stall_margin=-100.0, threads=args.threads, cpu_bf16=bf16)
        spec = SimpleNamespace(dataset=data.dir.name, data_key=data.manifest["key"], annotation="human",
                               run_id="bench", model={"layers": args.layers, "hidden": args.hidden},
                               n_train=args.pairs, seed=0, training=asdict(training))
        with tempfile.TemporaryDirectory() as tmp:
            seconds.append(train_and_evaluate(spec, tmp, evaluate=False)["train_seconds"])
    return args.steps * args.batch / (seconds[1] - seconds[0])


def sentence_transformers_side(data, args, bf16: bool) -> float:
    """Pairs per second of SentenceTransformerTrainer with MultipleNegativesRankingLoss, timed
    by a callback from the end of its WARMUP_STEPS-th step to the end of training."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers import models
    from sentence_transformers.losses import MultipleNegativesRankingLoss
    from transformers import BertModel, TrainerCallback

    from drscaling.model import bert_config

    tokenizer = data.tokenizer()
    pairs = data.subset(args.pairs)
    queries = data.queries("train").set_index("qid")["text"]
    passages = data.corpus.set_index("pid")["text"]
    train = Dataset.from_dict({"anchor": [queries[q] for q in pairs["qid"]], "positive": [passages[p] for p in pairs["pid"]]})

    class Clock(TrainerCallback):
        times: list[float] = []

        def on_step_end(self, *a, **k):
            self.times.append(time.time())

    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        BertModel(bert_config(args.layers, args.hidden, len(tokenizer)), add_pooling_layer=False).save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        transformer = models.Transformer(tmp, max_seq_length=args.length)
        pooling = models.Pooling(args.hidden, pooling_mode="mean")
        dense = models.Dense(args.hidden, 768, activation_function=torch.nn.Identity())
        model = SentenceTransformer(modules=[transformer, pooling, dense], device="cpu")
        clock = Clock()
        trainer = SentenceTransformerTrainer(
            model=model, train_dataset=train, loss=MultipleNegativesRankingLoss(model), callbacks=[clock],
            args=SentenceTransformerTrainingArguments(
                output_dir=os.path.join(tmp, "out"), per_device_train_batch_size=args.batch,
                max_steps=args.steps + WARMUP_STEPS, learning_rate=1e-3, warmup_steps=5, logging_steps=10_000,
                save_strategy="no", report_to=[], use_cpu=True, dataloader_drop_last=True, seed=0,
                disable_tqdm=True, bf16=bf16),
        )
        trainer.train()
    timed = clock.times[WARMUP_STEPS - 1:]
    return (len(timed) - 1) * args.batch / (timed[-1] - timed[0])


def flop_rates(data, args, rates: dict, threads: int) -> dict:
    """Our trainer's model FLOP rate per precision against the measured peaks."""
    from drscaling.wall_estimate import padded_widths
    from drscaling.flops import train_step_flops
    from drscaling.step_times import measure_matmul_peak
    from drscaling.step_times import threads as threads_set
    from drscaling.tokens import run_texts

    cfg = TrainingConfig(max_query_length=args.length, max_passage_length=args.length, batch_size=args.batch,
                         negatives=0)
    texts = run_texts(data, {}, cfg)
    pairs = data.subset(args.pairs)
    q = texts.queries.lengths[[texts.query_row[x] for x in pairs["qid"]]]
    p = texts.passages.lengths[[texts.corpus_row[x] for x in pairs["pid"]]]
    query_w, passage_w = padded_widths(q, p, texts.passages.lengths, args.batch, 0)
    per_step = train_step_flops(args.layers, args.hidden, args.batch, round(query_w), args.batch, round(passage_w))
    tokens = args.batch * round(passage_w)  # the feed-forward product over a batch's passages
    out = {"flop_per_step": per_step, "padded_widths": {"query": round(query_w, 1), "passage": round(passage_w, 1)},
           "counted": "drscaling.flops: matrix products of the layers, projection and scores; training = 3x forward"}
    for precision, rate in rates.items():
        square = max(measure_matmul_peak(precision, threads, size) for size in (1024, 2048, 4096))
        with threads_set(threads):
            shape_rate = matmul_rate(tokens, args.hidden, 4 * args.hidden, precision)
        # the peak: the best product measured, square or the shape's own (which can beat squares
        # that outgrow the cache)
        peak = max(square, shape_rate)
        ours = per_step * rate["ours_pairs_per_s"] / args.batch
        out[precision] = {"ours_flop_per_s": round(ours), "peak_flop_per_s": round(peak),
                          "fraction_of_peak": round(ours / peak, 3),
                          "square_matmul_flop_per_s": round(square),
                          "shape_matmul_flop_per_s": round(shape_rate),
                          "shape_matmul": f"{tokens}x{args.hidden} @ {args.hidden}x{4 * args.hidden}"}
    return out


def matmul_rate(m: int, k: int, n: int, precision: str, repeats: int = 20) -> float:
    """FLOP/s of an (m x k) @ (k x n) product, the best of ``repeats``."""
    from drscaling.flops import matmul_flops

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]
    a, b = torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return matmul_flops(m, k, n) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--length", type=int, default=64, help="maximum tokens of queries and passages")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--pairs", type=int, default=10_000, help="training pairs (a nested subset size)")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="measurements per trainer and precision (median)")
    args = parser.parse_args()
    from drscaling.device import cpu_has_bf16, training_precision

    torch.set_num_threads(args.threads or os.cpu_count())
    profile = load_profile(args.profile)
    data = ProcessedData(profile.processed_dir)
    # bf16 only where the CPU computes it: elsewhere our trainer falls back to fp32 and
    # sentence-transformers' autocast emulates bf16, neither a bf16 measurement
    precisions = ("fp32", "bf16") if cpu_has_bf16() else ("fp32",)
    # step times on this shared 2-core machine vary by up to a third between minutes: each
    # figure is the median of --repeats measurements, taken in turn (ST, ours; fp32, bf16)
    samples = {(side, precision): [] for side in ("sentence_transformers", "ours") for precision in precisions}
    for _ in range(args.repeats):
        for precision in precisions:
            samples["sentence_transformers", precision].append(sentence_transformers_side(data, args, precision == "bf16"))
            samples["ours", precision].append(ours(data, args, precision == "bf16"))
    rate = {key: round(float(np.median(values)), 1) for key, values in samples.items()}
    rates = {
        precision: {"sentence_transformers_pairs_per_s": rate["sentence_transformers", precision],
                    "ours_pairs_per_s": rate["ours", precision],
                    "ratio": round(rate["ours", precision] / rate["sentence_transformers", precision], 2),
                    "samples": {side: [round(v, 1) for v in samples[side, precision]]
                                for side in ("sentence_transformers", "ours")}}
        for precision in precisions
    }
    with warnings.catch_warnings():  # the fp32 fallback's warning: the report says it
        warnings.simplefilter("ignore")
        our_precision = training_precision(profile.training, torch.device("cpu"))
    ours_rate, st = rate["ours", our_precision], rate["sentence_transformers", "fp32"]
    threads = torch.get_num_threads()
    report = {
        "shape": f"L{args.layers}-H{args.hidden}", "batch": args.batch, "max_length": args.length, "steps": args.steps,
        "ours_pairs_per_s": ours_rate, "sentence_transformers_pairs_per_s": st, "ratio": round(ours_rate / st, 2),
        "ours_precision": our_precision, "sentence_transformers_precision": "fp32", "repeats": args.repeats,
        "same_precision": rates, "threads": threads, "device": "cpu", "profile": profile.name,
        "cpu": cpu_model(), "cpu_has_bf16": cpu_has_bf16(),
        "flops": flop_rates(data, args, rates, threads),
    }
    write_json(paths.outputs_dir("bench") / "bench.json", report)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
