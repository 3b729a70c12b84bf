"""Training throughput of our trainer against sentence-transformers' own trainer, side by side
on this machine: the same BERT shape trained from scratch, the same batch of (query, passage)
pairs with in-batch negatives only (MultipleNegativesRankingLoss's objective), the same maximum
length and the same SQuAD training pairs. Writes outputs/bench/bench.json and prints it.

    python scripts/bench_train.py [--profile cpu] [--layers 2 --hidden 128 --batch 64 --steps 60]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import asdict
from types import SimpleNamespace

import torch

from drscaling import paths
from drscaling.config import TrainingConfig, load_profile
from drscaling.datasets import ProcessedData
from drscaling.fileio import write_json


def ours(data, args) -> float:
    """Pairs per second of drscaling.train over ``steps`` steps (its own clock, which also
    covers one small validation check: a conservative figure)."""
    from drscaling.train import train_and_evaluate

    training = TrainingConfig(steps=args.steps, batch_size=args.batch, negatives=0, in_batch_negatives=True,
                              learning_rate=1e-3, warmup_steps=5, max_query_length=args.length,
                              max_passage_length=args.length, eval_every=args.steps, eval_pairs=32, eval_pool=64,
                              stall_margin=-100.0, threads=args.threads)
    spec = SimpleNamespace(dataset=data.dir.name, data_key=data.manifest["key"], annotation="human", run_id="bench",
                           model={"layers": args.layers, "hidden": args.hidden}, n_train=args.pairs, seed=0,
                           training=asdict(training))
    with tempfile.TemporaryDirectory() as tmp:
        # a warm-up run fills the tokenisation cache so that both sides start from text in memory
        warm = SimpleNamespace(**{**vars(spec), "training": {**spec.training, "steps": 2, "eval_every": 2}})
        train_and_evaluate(warm, os.path.join(tmp, "warm"))
        from drscaling import train as train_module

        result = train_module.train_and_evaluate(spec, os.path.join(tmp, "run"))
    return args.steps * args.batch / result["train_seconds"]


def sentence_transformers_side(data, args) -> float:
    """Pairs per second of SentenceTransformerTrainer with MultipleNegativesRankingLoss, timed
    from the end of its first steps to the end of training by a callback."""
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
    warmup = 5

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
                max_steps=args.steps + warmup, learning_rate=1e-3, warmup_steps=5, logging_steps=10_000,
                save_strategy="no", report_to=[], use_cpu=True, dataloader_drop_last=True, seed=0,
                disable_tqdm=True),
        )
        trainer.train()
    timed = clock.times[warmup - 1:]
    return (len(timed) - 1) * args.batch / (timed[-1] - timed[0])


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
    args = parser.parse_args()
    torch.set_num_threads(args.threads or os.cpu_count())
    profile = load_profile(args.profile)
    data = ProcessedData(profile.processed_dir)
    st = sentence_transformers_side(data, args)
    ours_rate = ours(data, args)
    report = {
        "shape": f"L{args.layers}-H{args.hidden}", "batch": args.batch, "max_length": args.length, "steps": args.steps,
        "ours_pairs_per_s": round(ours_rate, 1), "sentence_transformers_pairs_per_s": round(st, 1),
        "ratio": round(ours_rate / st, 2), "threads": torch.get_num_threads(), "device": "cpu",
        "profile": profile.name,
    }
    write_json(paths.outputs_dir("bench") / "bench.json", report)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
