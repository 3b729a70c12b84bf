"""A query generator trained here: docT5query's recipe without a hub (issue 15).

A small T5 is built from scratch with the prepared WordPiece vocabulary and trained to write the
question from its passage on the training split's (passage, question) pairs only, never
validation or test. It is seeded, checkpointed every ``eval_every`` steps (a rerun after an
interruption resumes there) and cached under ``data/processed/<dataset>/generators/<key>/``,
with a key over the prepared data and every setting: every run and every rerun reuses it. The
trained model is a plain transformers folder (``model/``, saved with ``save_pretrained`` with
its tokenizer), so the ``generated`` annotation method reads it like any local generator.

Its quality (:func:`generator_quality`): validation loss, ROUGE-L of greedy queries against the
human questions of validation passages (``rouge-score``), and the share of generated queries
that are a verbatim span of their passage (a generator that copies teaches little).

Decoding (:func:`generate_queries`): one query per passage from any local transformers model,
the generator trained here or a hub model such as docT5query.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..fileio import atomic_path, read_json, sha256_json, write_json
from .copy_t5 import copy_t5_classes

# part of the cache key: a change to the training code makes a new model (2: the copy mechanism)
GENERATOR_VERSION = 2
LOCAL = "local"  # the ``model_path`` of the generated method that means "the generator trained here"

# generate_queries' options: greedy unless do_sample (then top_k, temperature); no_repeat_ngram_size
# n > 0: no n-gram twice in a query
DECODING_OPTIONS = ("max_new_tokens", "batch_size", "do_sample", "top_k", "temperature", "no_repeat_ngram_size")
SUGGESTED_GENERATOR = "castorini/doc2query-t5-base-msmarco"


class ModelNotAvailableError(RuntimeError):
    """The query-generation model is not on this machine; the ``generated`` method is skipped."""


@dataclass(frozen=True)
class GeneratorConfig:
    d_model: int = 128
    layers: int = 2  # encoder and decoder each
    heads: int = 4
    d_ff: int = 512
    dropout: float = 0.1
    max_passage_length: int = 128
    max_query_length: int = 32
    batch_size: int = 32
    steps: int = 3000
    learning_rate: float = 1e-3
    warmup_steps: int = 100
    eval_every: int = 500  # validation loss and a checkpoint
    eval_pairs: int = 500
    seed: int = 0
    threads: int = 1
    # A copy mechanism (pointer-generator, See et al. 2017): each output token is a mixture of
    # the vocabulary softmax and the cross-attention over the passage's own tokens. Without it
    # the from-scratch T5 (3,000 steps, no copy) wrote one generic question for every passage
    # (ROUGE-L 0.150); questions reuse their passage's rare words, which a small model trained
    # for an epoch cannot learn to reproduce through its vocabulary softmax alone.
    copy: bool = True

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name not in ("seed", "dropout", "copy") and not value > 0:
                raise ValueError(f"generator.{f.name}: expected a positive number, got {value!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"generator.dropout: expected a rate in [0, 1), got {self.dropout!r}")


# ---------------------------------------------------------------- the pairs it learns from

def split_pairs(data, split: str) -> pd.DataFrame:
    """(pid, passage, question) of one split's qrels."""
    pairs = data.qrels(split)
    text = dict(zip(data.corpus["pid"], data.corpus["text"]))
    queries = data.all_queries
    question = dict(zip(queries["qid"], queries["text"]))
    return pd.DataFrame({"pid": pairs["pid"].to_numpy(), "passage": [text[p] for p in pairs["pid"]],
                         "question": [question[q] for q in pairs["qid"]]})


def training_pairs(data) -> pd.DataFrame:
    """The pairs the generator is trained on: the training split's only."""
    return split_pairs(data, "train")


# ---------------------------------------------------------------- model and training

def build_model(tokenizer, cfg: GeneratorConfig):
    """A T5 of ``cfg``'s shape over the tokenizer's vocabulary, randomly initialised (seeded);
    with ``cfg.copy`` the T5 with a copy mechanism (:func:`copy_t5_classes`)."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(cfg.seed)
    config_class, model_class = copy_t5_classes() if cfg.copy else (T5Config, T5ForConditionalGeneration)
    config = config_class(
        vocab_size=len(tokenizer), d_model=cfg.d_model, d_kv=cfg.d_model // cfg.heads, d_ff=cfg.d_ff,
        num_layers=cfg.layers, num_decoder_layers=cfg.layers, num_heads=cfg.heads,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.sep_token_id,
        decoder_start_token_id=tokenizer.pad_token_id, dropout_rate=cfg.dropout,
    )
    return model_class(config)


def _encode(tokenizer, texts: list[str], max_length: int) -> list[list[int]]:
    return tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]


def _pad(rows: list[list[int]], value: int):
    import torch

    width = max(len(r) for r in rows)
    return torch.tensor([r + [value] * (width - len(r)) for r in rows], dtype=torch.long)


def _batch(sources, targets, rows, pad_id):
    src = _pad([sources[i] for i in rows], pad_id)
    labels = _pad([targets[i] for i in rows], -100)  # padding is not predicted
    return src, (src != pad_id).long(), labels


def sequence_loss(model, sources, targets, pad_id: int, batch_size: int = 64) -> float:
    """Mean token cross-entropy of ``targets`` given ``sources`` (token id lists)."""
    import torch

    was = model.training
    model.eval()
    total, tokens = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(sources), batch_size):
            rows = range(start, min(start + batch_size, len(sources)))
            src, mask, labels = _batch(sources, targets, rows, pad_id)
            out = model(input_ids=src, attention_mask=mask, labels=labels)
            n = int((labels != -100).sum())
            total, tokens = total + float(out.loss) * n, tokens + n
    model.train(was)
    return total / max(tokens, 1)


def train_seq2seq(model, tokenizer, sources: list[str], targets: list[str], cfg: GeneratorConfig,
                  directory: Path | None = None, validation: tuple[list[str], list[str]] | None = None,
                  progress: bool = True) -> dict:
    """Train ``model`` on source -> target texts for ``cfg.steps`` steps (AdamW, linear warmup
    and decay; each pass a new seeded order). With ``directory``, a checkpoint every
    ``cfg.eval_every`` steps (``state.pt``), from which a rerun resumes. Returns the losses."""
    import torch
    from tqdm.auto import tqdm

    torch.set_num_threads(cfg.threads)
    pad_id = tokenizer.pad_token_id
    src_ids = _encode(tokenizer, sources, cfg.max_passage_length)
    tgt_ids = _encode(tokenizer, targets, cfg.max_query_length)
    val = None
    if validation is not None:
        val = (_encode(tokenizer, validation[0], cfg.max_passage_length),
               _encode(tokenizer, validation[1], cfg.max_query_length))
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=0.01)
    state_path = None if directory is None else Path(directory) / "state.pt"
    step, log = 0, []
    if state_path is not None and state_path.is_file():
        saved = torch.load(state_path, weights_only=False)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        step, log = saved["step"], saved["log"]
    per_pass = max(1, len(src_ids) // cfg.batch_size)
    model.train()
    bar = tqdm(total=cfg.steps, initial=step, desc="train query generator", disable=not progress, mininterval=2)
    running, seen = 0.0, 0
    while step < cfg.steps:
        epoch, offset = divmod(step, per_pass)
        order = np.random.default_rng([cfg.seed, epoch]).permutation(len(src_ids))
        rows = order[offset * cfg.batch_size:(offset + 1) * cfg.batch_size]
        torch.manual_seed(cfg.seed * 1_000_003 + step)  # dropout: a function of (seed, step)
        src, mask, labels = _batch(src_ids, tgt_ids, rows, pad_id)
        warm = (step + 1) / cfg.warmup_steps
        decay = max(0.0, (cfg.steps - step) / max(1, cfg.steps - cfg.warmup_steps))
        lr = cfg.learning_rate * min(warm, decay)  # linear warmup, then linear decay to 0
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = model(input_ids=src, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        running, seen = running + loss.item(), seen + 1
        bar.update(1)
        if step % cfg.eval_every == 0 or step == cfg.steps:
            record = {"step": step, "train_loss": running / seen}
            if val is not None:
                record["validation_loss"] = sequence_loss(model, val[0], val[1], pad_id)
            log.append(record)
            running, seen = 0.0, 0
            bar.set_postfix({k: round(v, 3) for k, v in record.items() if k != "step"})
            if state_path is not None:
                with atomic_path(state_path) as tmp:
                    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                                "log": log}, tmp)
    bar.close()
    return {"steps": step, "log": log, "train_loss": log[-1]["train_loss"] if log else math.nan,
            "validation_loss": log[-1].get("validation_loss") if log else None}


# ---------------------------------------------------------------- the cached generator of a dataset

def generator_key(data, cfg: GeneratorConfig) -> str:
    return sha256_json({"version": GENERATOR_VERSION, "data_key": data.manifest["key"], "config": dataclasses.asdict(cfg)})


def generator_dir(data, cfg: GeneratorConfig) -> Path:
    return Path(data.dir) / "generators" / generator_key(data, cfg)[:16]


def local_generator(data, cfg: GeneratorConfig | None = None, progress: bool = True) -> Path:
    """The folder of the generator trained on ``data``'s training pairs with ``cfg`` (its
    ``model/`` is a transformers model with its tokenizer): trained here the first time, then
    reused; an interrupted training resumes from its last checkpoint."""
    cfg = cfg or GeneratorConfig()
    out = generator_dir(data, cfg)
    if (out / "result.json").is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    tokenizer = data.tokenizer()
    model = build_model(tokenizer, cfg)
    train = training_pairs(data)
    val = split_pairs(data, "validation").head(cfg.eval_pairs)
    result = train_seq2seq(model, tokenizer, train["passage"].tolist(), train["question"].tolist(), cfg, out,
                           (val["passage"].tolist(), val["question"].tolist()), progress=progress)
    staging = out / "model.partial"
    model.save_pretrained(staging)
    tokenizer.model_max_length = cfg.max_passage_length  # generation truncates passages as training did
    tokenizer.save_pretrained(staging)
    if (out / "model").exists():
        import shutil

        shutil.rmtree(out / "model")
    staging.rename(out / "model")
    write_json(out / "result.json", {
        "key": generator_key(data, cfg), "config": dataclasses.asdict(cfg), "train_pairs": len(train),
        "validation_pairs": len(val), "seconds": round(time.time() - started, 1), **result,
    })
    (out / "state.pt").unlink(missing_ok=True)  # the finished model replaces the checkpoint
    return out


def resolve_model_path(data, model_path: str, generator: dict | None = None) -> str:
    """``model_path`` of the generated method: :data:`LOCAL` means the generator trained here
    (with ``generator`` settings over GeneratorConfig's), anything else is returned unchanged."""
    if model_path != LOCAL:
        return model_path
    return str(local_generator(data, GeneratorConfig(**(generator or {}))) / "model")


def model_identity(data, model_path: str, generator: dict | None = None) -> str:
    """The generated method's model as a cache key sees it: the trained generator's key for
    :data:`LOCAL`, ``model_path`` as written otherwise. Never the resolved folder, which holds
    the study's own location: two copies of one study must name the same queries alike."""
    if model_path != LOCAL:
        return str(model_path)
    return "local:" + generator_key(data, GeneratorConfig(**(generator or {})))


# ---------------------------------------------------------------- quality

def is_copy(query: str, passage: str) -> bool:
    """Whether the query is a verbatim span of its passage (case and spacing aside)."""
    def norm(text: str) -> str:
        return " ".join(text.lower().split())

    q = norm(query)
    return bool(q) and q in norm(passage)


def generator_quality(data, folder: Path, n: int = 200, seed: int = 0, **decoding) -> dict:
    """Validation loss (from training), ROUGE-L F1 of generated queries against the human
    question for ``n`` validation passages, the copy rate, and examples."""
    from rouge_score import rouge_scorer

    folder = Path(folder)
    trained = read_json(folder / "result.json")
    val = split_pairs(data, "validation").drop_duplicates("pid").head(n)
    generated = generate_queries(val["passage"].tolist(), str(folder / "model"), seed=seed, **decoding)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    rouge = [scorer.score(h, g)["rougeL"].fmeasure for h, g in zip(val["question"], generated)]
    copies = [is_copy(g, p) for g, p in zip(generated, val["passage"])]
    return {
        "validation_loss": trained.get("validation_loss"), "rouge_l": float(np.mean(rouge)),
        "copy_rate": float(np.mean(copies)), "n": len(val),
        "examples": [{"passage": p[:200], "human": h, "generated": g}
                     for p, h, g in list(zip(val["passage"], val["question"], generated))[:10]],
    }


def local_settings(options: dict) -> tuple[GeneratorConfig, dict]:
    """The generator settings and the decoding options of a ``generated`` method's options
    (``model_path: local``): what it trains and how it writes its queries."""
    return GeneratorConfig(**(options.get("generator") or {})), {k: options[k] for k in DECODING_OPTIONS if k in options}


def quality_by_method(data, methods: dict, n: int = 200, seed: int = 0) -> dict[str, dict]:
    """For every method of a study (``{label: (method, options)}``) that writes its queries with
    the generator trained here (``generated`` with ``model_path: local``): its generator's
    :func:`generator_quality` (decoded as the method decodes), with the training's size and
    time. Trains the generator if it is not cached yet."""
    out = {}
    for label, (method, options) in methods.items():
        if method != "generated" or options.get("model_path") != LOCAL:
            continue
        cfg, decoding = local_settings(options)
        folder = local_generator(data, cfg)
        trained = read_json(folder / "result.json")
        # the folder relative to the prepared data: the same record wherever the data lives
        out[label] = {"folder": str(folder.relative_to(data.dir)), "train_pairs": trained["train_pairs"],
                      "train_seconds": trained["seconds"],
                      **generator_quality(data, folder, n=n, seed=seed, **decoding)}
    return out


# ---------------------------------------------------------------- decoding

def generator_available(model_path) -> tuple[bool, str]:
    """(True, "") if the ``generated`` method's model is on this machine (or trained here,
    ``local``), else (False, why)."""
    path = model_path
    hint = (f"(e.g. {SUGGESTED_GENERATOR}: a hub id, or its folder saved with save_pretrained; or 'local' for "
            f"a generator trained here; set model_path)")
    if path is None:
        return False, f"the 'generated' method is skipped: no model_path {hint}"
    if path == "local":  # trained here on the training pairs (drscaling.annotation.generator)
        return True, ""
    if Path(path).exists():
        return True, ""
    if _looks_like_hub_id(str(path)):
        try:  # from the local cache, or downloaded where there is a network
            from transformers import AutoConfig

            AutoConfig.from_pretrained(str(path))
            return True, ""
        except OSError as e:
            return False, f"the 'generated' method is skipped: {path!r} is not here and could not be fetched ({e})"
    return False, f"the 'generated' method is skipped: no query-generation model at {path!r} {hint}"


def _looks_like_hub_id(text: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", text))


def generate_queries(
    passages: Sequence[str], model_path, max_new_tokens: int = 32, batch_size: int = 8, seed: int = 0,
    do_sample: bool = False, top_k: int = 0, temperature: float = 1.0, no_repeat_ngram_size: int = 0,
    progress: bool = True,
) -> list[str]:
    """One query per passage from a local transformers model: greedy decoding, or sampling
    (``do_sample``, with ``top_k`` and ``temperature``) seeded by ``seed``; with
    ``no_repeat_ngram_size`` n > 0 no n-gram of tokens appears twice in a query.

    Seq2seq models (``config.is_encoder_decoder``) read the passage; causal models read
    ``"Passage: {p}\\nQuery:"`` and only the new tokens are kept.
    """
    ok, why = generator_available(model_path)
    if not ok:
        raise ModelNotAvailableError(why)
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    copy_t5_classes()  # the generator trained here is a T5 with a copy mechanism (model type t5-copy)
    torch.manual_seed(seed)
    try:
        config = AutoConfig.from_pretrained(model_path)
        tok = AutoTokenizer.from_pretrained(model_path)
        seq2seq = bool(getattr(config, "is_encoder_decoder", False))
        model = (AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM).from_pretrained(model_path)
    except OSError as e:  # a hub id that cannot be fetched (offline) or an incomplete folder
        raise ModelNotAvailableError(f"query-generation model {model_path!r} could not be loaded ({e}); "
                                     f"the 'generated' annotation method is skipped") from None
    model.eval()
    if tok.pad_token is None:
        if tok.eos_token is None:
            raise ValueError(f"{model_path}: tokenizer has neither a pad nor an eos token")
        tok.pad_token = tok.eos_token
    if not seq2seq:
        tok.padding_side = "left"
    max_len = min(int(tok.model_max_length or 512), 512)
    pad_id = tok.pad_token_id
    out: list[str] = []
    from tqdm.auto import tqdm

    for b in tqdm(range(0, len(passages), batch_size), desc="generate queries", unit="batch", mininterval=2,
                  disable=not progress or len(passages) <= 4 * batch_size):
        batch = list(passages[b:b + batch_size])
        texts = batch if seq2seq else [f"Passage: {p}\nQuery:" for p in batch]
        enc = tok(texts, return_tensors="pt", padding=True, truncation=True, max_length=max_len)
        enc.pop("token_type_ids", None)
        with torch.no_grad():
            sampling = {"do_sample": True, "top_k": int(top_k), "temperature": float(temperature)} if do_sample \
                else {"do_sample": False}
            if no_repeat_ngram_size:
                sampling["no_repeat_ngram_size"] = int(no_repeat_ngram_size)
            gen = model.generate(**enc, max_new_tokens=max_new_tokens, num_beams=1, pad_token_id=pad_id, **sampling)
        if not seq2seq:
            gen = gen[:, enc["input_ids"].shape[1]:]
        out.extend(s.strip() for s in tok.batch_decode(gen, skip_special_tokens=True))
    return out
