"""Data preparation end to end: sources -> ``data/processed/<dataset>/``, and reading it back.

What is written (all atomically: into a temporary folder that replaces the old one at the end):

- ``corpus.parquet``: pid, text, group (e.g. the SQuAD article), in a fixed order; "corpus
  row" below means a row index of this file;
- ``queries.parquet`` (split, qid, text) and ``qrels.parquet`` (split, qid, pid): the splits
  train / validation / test; a split's qrels rows, in file order, are its evaluated pairs;
- ``train_order.parquet``: training pairs (qid, pid) ranked by one seeded permutation; the
  nested subset of size D is ``rank < D``;
- ``negative_pool.npy``: corpus rows that are no test or validation positive;
- ``cll_negatives_<split>.npy`` (int32, pairs x repeats x K corpus rows): the stored draw;
- ``tokenizer/``: WordPiece trained on the training queries and their passages;
- ``manifest.json``: source checksums, the settings, seeds, counts and a key; a rerun whose
  key matches an existing manifest does nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
import time
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths
from ..config import ConfigError, DataConfig, Profile
from ..fileio import read_json, sha256_file, sha256_json, write_json
from .base import RetrievalDataset, merge, pool
from .download import find_file, find_or_download
from .negatives import draw_negatives, negative_pool
from .splits import hold_out_groups, hold_out_validation, nested_subset_order, pairs_frame

logger = logging.getLogger(__name__)

FORMAT_VERSION = 3  # 2: canonical tokenizer ids (1 numbered them differently from process to process); 3: the same vocabulary in every process
EVALUATED_SPLITS = ("test", "validation")


def derived_seeds(seed: int, test_split: bool = False) -> dict[str, int]:
    """One seed per random step, all recorded in the manifest (``test_split``: the draw of the
    test articles from a pool)."""
    seeds = {"validation_split": seed, "subsets": seed + 1, "cll_test": seed + 2, "cll_validation": seed + 3}
    return {**seeds, "test_split": seed + 4} if test_split else seeds


# ---------------------------------------------------------------- sources

def source_file_names(cfg: DataConfig) -> dict[str, str]:
    """The file names a msmarco, t2ranking or beir source reads: its official names, with the
    profile's data.files over them."""
    from . import beir, msmarco, t2ranking

    defaults = {"msmarco": msmarco.DEFAULT_FILES, "t2ranking": t2ranking.DEFAULT_FILES,
                "beir": beir.DEFAULT_FILES}[cfg.source]
    return {**defaults, **cfg.files}


def source_files(cfg: DataConfig) -> dict[str, Path]:
    """The local source files, found (or, for SQuAD, downloaded) but not yet read."""
    dirs = [paths.resolve(d) for d in cfg.search_dirs]
    if cfg.source == "squad" and "pool" in cfg.files:
        found = {}
        for i, name in enumerate(cfg.files["pool"]):
            found[f"pool[{i}]"] = find_file(name, dirs)
            if found[f"pool[{i}]"] is None:
                raise FileNotFoundError(f"{name} (data.files.pool[{i}]) is in none of: {', '.join(map(str, dirs))}; "
                                        f"name its folder in the profile's data.search_dirs")
        return found
    if cfg.source == "squad":
        missing = {"train", "test"} - set(cfg.files)
        if missing:
            raise ValueError(f"data.files needs 'train' and 'test' file names for source squad; missing {sorted(missing)}")
        return {
            split: find_or_download(cfg.files[split], dirs, cfg.download_url, paths.resolve(cfg.download_dir))
            for split in ("train", "test")
        }
    if cfg.route == "ir_datasets":
        return {}
    names = source_file_names(cfg)
    found: dict[str, Path] = {}
    for key, name in names.items():
        f = find_file(name, dirs)
        if f is None:
            raise FileNotFoundError(
                f"{cfg.source}: {name} (data.files.{key}) is in none of: {', '.join(map(str, dirs))}. "
                f"Download the official files and name their folder in the profile's data.search_dirs."
            )
        found[key] = f
    return found


def load_source(cfg: DataConfig, files: dict[str, Path]) -> RetrievalDataset:
    """Read the sources into one dataset with train and test splits (a squad pool: one split,
    ``pool``, which preparation divides)."""
    if cfg.source == "squad" and "pool" in cfg.files:  # one pool: held out by test_groups
        from .squad import load_squad

        # grouped by title across the files: one article's paragraphs may sit in two files (DRCD)
        parts = {name: load_squad(files[f"pool[{i}]"], name=str(files[f"pool[{i}]"]), convert=cfg.convert,
                                  skip_empty_questions=cfg.skip_empty_questions, group_by_title=True)
                 for i, name in enumerate(cfg.files["pool"])}
        return pool("squad", parts, split="pool")
    if cfg.source == "squad":
        from .squad import load_squad

        limits = {"train": cfg.limit_train_articles, "test": cfg.limit_test_articles}
        parts = {s: load_squad(files[s], limits[s], name=str(files[s]), convert=cfg.convert,
                               skip_empty_questions=cfg.skip_empty_questions) for s in ("train", "test")}
        return merge("squad", parts)
    if cfg.source == "msmarco" and cfg.route == "ir_datasets":
        from .msmarco import load_msmarco_ir_datasets

        return load_msmarco_ir_datasets()
    if cfg.source == "beir":
        from .beir import load_beir_files

        return load_beir_files(files, name=files["collection"].parent.name)
    from .tsv import load_tsv_dataset

    directory = files["collection"].parent
    return load_tsv_dataset(cfg.source, directory, {k: str(v.relative_to(directory)) if v.parent == directory else str(v) for k, v in files.items()})


# ---------------------------------------------------------------- preparation

# Data settings added after data were prepared: left out of the key while at these defaults,
# so that earlier preparations (and the runs tied to their keys) keep their keys.
LATE_DATA_DEFAULTS = {"test_groups": None, "convert": None, "skip_empty_questions": False}


def keyed_settings(cfg: DataConfig) -> dict:
    """The data settings that enter the preparation key."""
    settings = dataclasses.asdict(cfg)
    return {k: v for k, v in settings.items() if k not in LATE_DATA_DEFAULTS or v != LATE_DATA_DEFAULTS[k]}


def preparation_key(cfg: DataConfig, checksums: dict[str, str]) -> str:
    """The digest of every input of preparation: its code's format, the settings, the sources."""
    return sha256_json({"format": FORMAT_VERSION, "data": keyed_settings(cfg), "sources": checksums})


def data_key(inputs_key: str, tokenizer) -> str:
    """The key runs are tied to: the inputs and the tokenizer's vocabulary (its tokens and ids),
    which the WordPiece trainer (a library outside this project) could change for the same inputs."""
    return sha256_json({"inputs": inputs_key, "vocabulary": sorted(tokenizer.get_vocab().items())})


def prepare_dataset(profile: Profile, force: bool = False) -> "ProcessedData":
    """Prepare the profile's dataset unless an up-to-date preparation is already there."""
    cfg, out = profile.data, profile.processed_dir
    files = source_files(cfg)
    checksums = {k: sha256_file(f) for k, f in files.items()}
    key = preparation_key(cfg, checksums)
    manifest_path = out / "manifest.json"
    if not force and manifest_path.is_file():
        old = read_json(manifest_path)
        if old.get("inputs_key") == key and all((out / f).exists() for f in old.get("files", [])):
            logger.info(f"{out} is up to date (same sources and settings); nothing to do")
            return ProcessedData(out)
        logger.info(f"{out} was prepared from other sources or settings; preparing it again")

    started = time.time()
    dataset = load_source(cfg, files)
    dataset.check()
    seeds = derived_seeds(cfg.seed, test_split=cfg.test_groups is not None)
    # Settings the data cannot satisfy (more validation groups than articles, a subset size
    # above the number of training pairs) are profile errors: name the profile and the data.
    train_source = files.get("train") or files.get("train_qrels") or cfg.source
    held_test = {}
    try:
        if cfg.test_groups is not None:  # a pool: test articles first, then validation from the rest
            train_source = ", ".join(str(f) for f in files.values())
            dataset, held_test = hold_out_groups(dataset, cfg.test_groups, seeds["test_split"], source="pool",
                                                 target="test", setting="data.test_groups")
        dataset, held_out = hold_out_validation(dataset, cfg.validation_groups, seeds["validation_split"],
                                                source="pool" if held_test else "train")
        pairs = {s: pairs_frame(sp) for s, sp in dataset.splits.items()}
        order = nested_subset_order(pairs["train"], list(cfg.subset_sizes), seeds["subsets"])
    except ValueError as e:
        raise ConfigError(
            f"{profile.path or profile.name}: {e} (training data from {train_source}, after holding out "
            f"data.validation_groups = {cfg.validation_groups} groups for validation"
            + (f" and data.test_groups = {cfg.test_groups} for test" if cfg.test_groups else "")
            + "); nothing was written"
        ) from None

    corpus_ids = list(dataset.corpus)
    row_of = {pid: i for i, pid in enumerate(corpus_ids)}
    excluded = dataset.splits["test"].positives() | dataset.splits["validation"].positives()
    pool = negative_pool(corpus_ids, excluded)
    draws = {
        s: draw_negatives(pool, len(pairs[s]), cfg.cll_negatives, cfg.cll_repeats, seeds[f"cll_{s}"])
        for s in EVALUATED_SPLITS
    }

    from ..tokenizer import train_wordpiece

    train_split = dataset.splits["train"]
    train_passages = sorted({pid for pids in train_split.qrels.values() for pid in pids}, key=row_of.get)
    texts = list(train_split.queries.values()) + [dataset.corpus[p] for p in train_passages]
    tokenizer = train_wordpiece(texts, cfg.vocab_size, lowercase=cfg.lowercase)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        pd.DataFrame(
            {"pid": corpus_ids, "text": list(dataset.corpus.values()), "group": [dataset.groups.get(p) for p in corpus_ids]}
        ).to_parquet(tmp / "corpus.parquet", index=False)
        pd.DataFrame(
            [(s, q, t) for s, sp in dataset.splits.items() for q, t in sp.queries.items()], columns=["split", "qid", "text"]
        ).to_parquet(tmp / "queries.parquet", index=False)
        pd.concat([p.assign(split=s)[["split", "qid", "pid"]] for s, p in pairs.items()], ignore_index=True).to_parquet(
            tmp / "qrels.parquet", index=False
        )
        order.to_parquet(tmp / "train_order.parquet", index=False)
        np.save(tmp / "negative_pool.npy", pool)
        for s, d in draws.items():
            np.save(tmp / f"cll_negatives_{s}.npy", d)
        tokenizer.save_pretrained(str(tmp / "tokenizer"))
        written = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file())
        manifest = {
            "format": FORMAT_VERSION,
            "key": data_key(key, tokenizer),
            "inputs_key": key,
            "dataset": profile.dataset,
            "profile": profile.name,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "seconds": round(time.time() - started, 1),
            "sources": {k: {"path": str(f), "sha256": checksums[k], "bytes": f.stat().st_size} for k, f in files.items()},
            "data": dataclasses.asdict(cfg),
            "seeds": seeds,
            "counts": {
                "corpus": len(corpus_ids),
                **{f"{s}_queries": len(sp.queries) for s, sp in dataset.splits.items()},
                **{f"{s}_pairs": len(p) for s, p in pairs.items()},
                "negative_pool": int(len(pool)),
                # per split: distinct positive passages and their groups (articles)
                **{f"{s}_passages": len(sp.positives()) for s, sp in dataset.splits.items()},
                **{f"{s}_groups": len({dataset.group_of(p) for p in sp.positives()}) for s, sp in dataset.splits.items()},
                "dropped_bridging_queries": len(held_out["dropped_bridging_queries"])
                + len(held_test.get("dropped_bridging_queries", [])),
                "vocab_size": len(tokenizer),
            },
            "subset_sizes": list(cfg.subset_sizes),
            "validation_groups": held_out["validation_groups"],
            **({"test_groups": held_test["test_groups"]} if held_test else {}),
            "cll_negatives": {s: list(d.shape) for s, d in draws.items()},
            "files": written,
        }
        write_json(tmp / "manifest.json", manifest)  # written last: its presence means complete
        _replace_dir(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    logger.info(f"prepared {out} in {time.time() - started:.0f} s")
    return ProcessedData(out)


def _replace_dir(new: Path, target: Path) -> None:
    """Put ``new`` at ``target``; the old folder is moved aside first and removed after."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{time.time_ns()}")
        target.rename(old)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old)


# ---------------------------------------------------------------- reading back

class ProcessedData:
    """Read access to one prepared dataset folder."""

    def __init__(self, directory: str | Path):
        self.dir = Path(directory)
        if not (self.dir / "manifest.json").is_file():
            raise FileNotFoundError(f"{self.dir}: no manifest.json; run data preparation (notebook 01) first")

    @cached_property
    def manifest(self) -> dict:
        return read_json(self.dir / "manifest.json")

    @cached_property
    def corpus(self) -> pd.DataFrame:
        return pd.read_parquet(self.dir / "corpus.parquet")

    @cached_property
    def all_queries(self) -> pd.DataFrame:
        """Every split's queries (split, qid, text); a query's row here is its token-cache row."""
        return pd.read_parquet(self.dir / "queries.parquet")

    @cached_property
    def all_qrels(self) -> pd.DataFrame:
        """Every split's pairs (split, qid, pid)."""
        return pd.read_parquet(self.dir / "qrels.parquet")

    def queries(self, split: str) -> pd.DataFrame:
        return self.all_queries[self.all_queries["split"] == split].reset_index(drop=True)

    def qrels(self, split: str) -> pd.DataFrame:
        """The split's evaluated pairs (qid, pid), in the order of its stored negatives."""
        return self.all_qrels[self.all_qrels["split"] == split].reset_index(drop=True)

    @cached_property
    def train_order(self) -> pd.DataFrame:
        return pd.read_parquet(self.dir / "train_order.parquet")

    def subset(self, size: int) -> pd.DataFrame:
        """The nested training subset of ``size`` pairs (qid, pid)."""
        n = len(self.train_order)
        if size > n:
            raise ValueError(f"asked for {size:,} training pairs, but {self.dir.name} has {n:,}")
        return self.train_order.iloc[:size][["qid", "pid"]].reset_index(drop=True)

    @cached_property
    def negative_pool(self) -> np.ndarray:
        return np.load(self.dir / "negative_pool.npy")

    def cll_negatives(self, split: str) -> np.ndarray:
        """(pairs, repeats, K) corpus rows, memory-mapped; pair i is row i of :meth:`qrels`."""
        return np.load(self.dir / f"cll_negatives_{split}.npy", mmap_mode="r")

    def tokenizer(self):
        from ..tokenizer import load_tokenizer

        return load_tokenizer(self.dir / "tokenizer")
