"""What a training step, a forward pass and a matrix product cost on this machine: measured
with the trainer's own model, loss and optimizer on random token ids, and cached, so that the
wall-time estimate of a plan (``drscaling.wall_estimate``) and the bench's peak
(``scripts/bench_train.py``) measure each thing once per machine.

The cache (``outputs/machine/step_times.json``) keys every figure by what it depends on: the
CPU model, the precision, the threads, the torch version, the shape and the workload. Another
machine, precision or thread count is measured anew; nothing measured elsewhere is reused.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import torch

from . import paths
from .fileio import write_json
from .provenance import cpu_model

CACHE_FILE = "step_times.json"
# Steps timed (median), after WARMUP_STEPS untimed ones: two measurements of 5 after 2 on this
# 2-core VM differed by up to 1.7x for one shape (L1-H32: 0.131 vs 0.079 s); more steps, steadier.
TIMED_STEPS = 12
WARMUP_STEPS = 3


@dataclass(frozen=True)
class Workload:
    """One training step's work: queries and passages (positives plus shared negatives) at the
    widths the trainer pads them to, and how it runs."""

    batch_size: int
    negatives: int
    in_batch_negatives: bool
    query_width: int
    passage_width: int
    precision: str  # fp32 | bf16 (autocast)
    threads: int
    vocab_size: int
    projection_dim: int = 768


def cache_path():
    return paths.outputs_dir("machine") / CACHE_FILE


def machine_key(precision: str, threads: int) -> str:
    """What a timing depends on besides the shape and the workload."""
    return f"{cpu_model()} | {precision} | {threads} thread(s) | torch {torch.__version__}"


def _read_cache() -> dict:
    path = cache_path()
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):  # a damaged cache is measured again, not trusted
        return {}


def cached(kind: str, key: dict, measure) -> float:
    """The cached figure for (kind, key), or ``measure()`` now, stored for next time."""
    text = json.dumps({"kind": kind, **key}, sort_keys=True)
    cache = _read_cache()
    if text not in cache:
        cache = {**_read_cache(), text: float(measure())}  # reread: another process may have written
        write_json(cache_path(), cache)
    return cache[text]


@contextmanager
def threads(n: int):
    """torch's intra-op threads set to ``n`` (0: all cores) inside the block."""
    before = torch.get_num_threads()
    torch.set_num_threads(n or os.cpu_count() or 1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _model(layers: int, hidden: int, intermediate: int | None, vocab_size: int, projection_dim: int):
    from transformers import BertModel

    from .model import DualEncoder, bert_config

    config = bert_config(layers, hidden, vocab_size)
    if intermediate is not None:
        config.intermediate_size = intermediate
    torch.manual_seed(0)
    return DualEncoder(BertModel(config, add_pooling_layer=False), projection_dim)


def _ids(n: int, width: int, vocab_size: int, generator: torch.Generator):
    return torch.randint(1, vocab_size, (n, width), generator=generator), torch.ones(n, width, dtype=torch.long)


def measure_train_step(layers: int, hidden: int, work: Workload, intermediate: int | None = None) -> float:
    """Seconds of one training step on the CPU, as ``drscaling.train.train_loop`` takes it: encode
    the queries and the passages (autocast in bf16 where asked), the contrastive loss, backward,
    gradient clipping and AdamW; median of TIMED_STEPS after WARMUP_STEPS."""
    from .config import TrainingConfig
    from .loss import contrastive_loss
    from .train import new_optimizer

    with threads(work.threads):
        model = _model(layers, hidden, intermediate, work.vocab_size, work.projection_dim)
        model.train()
        optimizer = new_optimizer(model, TrainingConfig(), torch.device("cpu"))
        g = torch.Generator().manual_seed(0)
        b, k = work.batch_size, work.negatives
        positive_ids, negative_ids = torch.arange(b), torch.arange(b, b + k)
        seconds = []
        for step in range(WARMUP_STEPS + TIMED_STEPS):
            q_ids, q_mask = _ids(b, work.query_width, work.vocab_size, g)
            p_ids, p_mask = _ids(b + k, work.passage_width, work.vocab_size, g)
            t0 = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=work.precision == "bf16"):
                q = model.encode(q_ids, q_mask)
                p = model.encode(p_ids, p_mask)
            loss = contrastive_loss(q.float(), p[:b].float(), p[b:].float(), positive_ids, negative_ids,
                                    work.in_batch_negatives)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            if step >= WARMUP_STEPS:
                seconds.append(time.perf_counter() - t0)
    return statistics.median(seconds)


def measure_forward(layers: int, hidden: int, width: int, threads_: int, vocab_size: int,
                    intermediate: int | None = None, batch_size: int = 256, batches: int = 3) -> float:
    """Seconds to encode one text of ``width`` tokens in evaluation (fp32, no gradients, batches
    of ``batch_size``, as ``drscaling.evaluate.encode``): median over ``batches`` after one."""
    with threads(threads_), torch.no_grad():
        model = _model(layers, hidden, intermediate, vocab_size, 768).eval()
        g = torch.Generator().manual_seed(0)
        seconds = []
        for i in range(batches + 1):
            ids, mask = _ids(batch_size, width, vocab_size, g)
            t0 = time.perf_counter()
            model.pool(ids, mask)
            if i:
                seconds.append(time.perf_counter() - t0)
    return statistics.median(seconds) / batch_size


def measure_matmul_peak(dtype: str = "fp32", threads_: int = 0, size: int = 2048, repeats: int = 5) -> float:
    """This machine's matrix-multiply rate in FLOP/s: the best of ``repeats`` products of two
    size x size matrices (fp32, or bf16 where the CPU has bf16 instructions)."""
    torch_dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype]
    with threads(threads_):
        a = torch.randn(size, size).to(torch_dtype)
        b = torch.randn(size, size).to(torch_dtype)
        a @ b  # warm-up
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t0)
    return 2 * size ** 3 / best


def train_step_seconds(layers: int, hidden: int, work: Workload, intermediate: int | None = None) -> float:
    key = {"machine": machine_key(work.precision, work.threads), "layers": layers, "hidden": hidden,
           "intermediate": intermediate, **asdict(work)}
    return cached("train_step", key, lambda: measure_train_step(layers, hidden, work, intermediate))


def forward_seconds(layers: int, hidden: int, width: int, threads_: int, vocab_size: int,
                    intermediate: int | None = None) -> float:
    key = {"machine": machine_key("fp32", threads_), "layers": layers, "hidden": hidden, "width": width,
           "intermediate": intermediate, "vocab_size": vocab_size}
    return cached("forward", key, lambda: measure_forward(layers, hidden, width, threads_, vocab_size, intermediate))


def matmul_peak(dtype: str = "fp32", threads_: int = 0) -> float:
    key = {"machine": machine_key(dtype, threads_ or os.cpu_count() or 1)}
    return cached("matmul_peak", key, lambda: measure_matmul_peak(dtype, threads_))
