"""Profiles: one YAML file per profile in ``configs/``, read into frozen dataclasses.

A profile has a ``dataset`` name (the folder ``data/processed/<dataset>/``), a ``data``
section (:class:`DataConfig`) and a ``notebooks`` section: per notebook, extra papermill
parameters. Every notebook also receives the profile's name as its ``profile`` parameter and
reads the typed sections through :func:`load_profile`. Unknown keys anywhere are errors.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import paths

SQUAD_URL = "https://rajpurkar.github.io/SQuAD-explorer/dataset"
SOURCES = ("squad", "msmarco", "t2ranking", "beir")
SQUAD_FILES = {"train": "train-v1.1.json", "test": "dev-v1.1.json"}
CONVERSIONS = ("t2s",)  # data.convert: OpenCC's configurations (t2s: traditional Chinese -> simplified)


class ConfigError(ValueError):
    """A profile that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class DataConfig:
    source: str = "squad"  # squad (any SQuAD-schema files) | msmarco | t2ranking | beir (any BEIR folder)
    route: str = "files"  # files | ir_datasets (msmarco only)
    # Folders searched in order for the source files ($DATASETS = ../shared/datasets).
    search_dirs: tuple[str, ...] = ("$DATASETS/squad-v1.1", "data/raw/squad")
    # Where missing SQuAD files are downloaded from (null: never download) and to.
    download_url: str | None = SQUAD_URL
    download_dir: str = "data/raw/squad"
    # File names: squad needs train and test, or pool (a list of files read into one pool,
    # from which test_groups articles are held out as the test split); msmarco/t2ranking need
    # collection and <split>_queries / <split>_qrels (their defaults are the official names).
    files: dict = field(default_factory=lambda: dict(SQUAD_FILES))
    limit_train_articles: int | None = None  # first articles only (quick profiles); squad only
    limit_test_articles: int | None = None
    validation_groups: int = 20  # whole training articles held out for validation
    test_groups: int | None = None  # whole articles of files.pool held out for test (pool only)
    convert: str | None = None  # squad only: queries and passages converted (t2s: traditional -> simplified)
    skip_empty_questions: bool = False  # squad: leave out questions with no text (CMRC 2018 trial has 2), not fail
    subset_sizes: tuple[int, ...] = ()  # nested training subsets (pairs) for the data-size axis
    seed: int = 0
    cll_negatives: int = 256  # negatives per evaluated pair (the paper: 256)
    cll_repeats: int = 10  # independent draws per pair (the paper: 10)
    vocab_size: int = 8192  # WordPiece vocabulary trained on the training texts
    lowercase: bool = True

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ConfigError(f"data.source: expected one of {SOURCES}, got {self.source!r}")
        if self.route not in ("files", "ir_datasets"):
            raise ConfigError(f"data.route: expected 'files' or 'ir_datasets', got {self.route!r}")
        if self.route == "ir_datasets" and self.source != "msmarco":
            raise ConfigError("data.route 'ir_datasets' is available for source 'msmarco' only")
        self._check_files()
        if self.convert is not None and (self.convert not in CONVERSIONS or self.source != "squad"):
            raise ConfigError(f"data.convert: expected null or one of {list(CONVERSIONS)} (source squad only), "
                              f"got {self.convert!r} for source {self.source}")
        for name in ("validation_groups", "cll_negatives", "cll_repeats", "vocab_size"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"data.{name}: expected a positive integer, got {getattr(self, name)}")
        if list(self.subset_sizes) != sorted(set(self.subset_sizes)) or any(d <= 0 for d in self.subset_sizes):
            raise ConfigError(f"data.subset_sizes: expected increasing positive integers, got {list(self.subset_sizes)}")

    def _check_files(self):
        """``files``: the keys the source reads (a mistyped key is an error, not a silently
        ignored file) and file names as values."""
        if self.source != "squad" and self.files == SQUAD_FILES:
            object.__setattr__(self, "files", {})  # not given: the source's official names apply
        if self.source == "squad" and "pool" in self.files:
            return self._check_pool()
        if self.test_groups is not None:
            raise ConfigError(f"data.test_groups: holds test articles out of files.pool only (source squad); "
                              f"here the test split comes from data.files (got test_groups {self.test_groups})")
        for key, name in self.files.items():
            if not isinstance(name, str) or not name.strip():
                raise ConfigError(f"data.files.{key}: expected a file name, got {name!r}")
        if self.source == "squad":
            unknown, missing = sorted(set(self.files) - set(SQUAD_FILES)), sorted(set(SQUAD_FILES) - set(self.files))
            if unknown or missing:
                raise ConfigError(
                    f"data.files: source squad expects exactly the keys ['test', 'train'] "
                    f"(unknown: {unknown}, missing: {missing})"
                )
        elif self.source == "beir":  # one queries file for every split
            unknown = sorted(k for k in self.files if k not in ("collection", "queries")
                             and not re.fullmatch(r"\w+_qrels", str(k)))
            if unknown:
                raise ConfigError(f"data.files: unknown key(s) {unknown} for source beir; expected 'collection', "
                                  f"'queries' and '<split>_qrels'")
        else:
            split_file = re.compile(r"\w+_(queries|qrels)")
            unknown = sorted(k for k in self.files if k != "collection" and not split_file.fullmatch(str(k)))
            if unknown:
                raise ConfigError(
                    f"data.files: unknown key(s) {unknown} for source {self.source}; expected 'collection', "
                    f"'<split>_queries' and '<split>_qrels'"
                )

    def _check_pool(self):
        """``files: {pool: [names]}``: one pool, test held out by ``test_groups``."""
        pool = self.files["pool"]
        if set(self.files) != {"pool"}:
            raise ConfigError(f"data.files: with 'pool' no other key (the test split is held out of the pool by "
                              f"data.test_groups); got also {sorted(set(self.files) - {'pool'})}")
        if not isinstance(pool, list) or not pool or not all(isinstance(n, str) and n.strip() for n in pool):
            raise ConfigError(f"data.files.pool: expected a non-empty list of file names, got {pool!r}")
        if len(set(pool)) != len(pool):
            raise ConfigError(f"data.files.pool: a file named twice in {pool}")
        if not isinstance(self.test_groups, int) or isinstance(self.test_groups, bool) or self.test_groups <= 0:
            raise ConfigError(f"data.test_groups: expected a positive integer (whole articles of files.pool held "
                              f"out for test), got {self.test_groups!r}")
        for name in ("limit_train_articles", "limit_test_articles"):
            if getattr(self, name) is not None:
                raise ConfigError(f"data.{name}: applies to files.train / files.test, not to files.pool; expected null")


@dataclass(frozen=True)
class TrainingConfig:
    """How one run is trained (the paper: batch 128 queries, 256 shared random negatives,
    10,000 steps). Grid entries may override any of these per shape."""

    steps: int = 1000
    batch_size: int = 64  # queries per step
    negatives: int = 64  # random corpus negatives shared by the batch
    in_batch_negatives: bool = True  # other queries' positives count as negatives too
    learning_rate: float = 1e-3
    warmup_steps: int = 100
    schedule: str = "linear"  # after warmup: linear | cosine | constant
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    max_query_length: int = 32  # tokens, [CLS] and [SEP] included
    max_passage_length: int = 128
    eval_every: int = 200  # steps between validation CLL checks (and checkpoints)
    eval_pairs: int = 1000  # validation pairs used by those checks
    eval_pool: int = 2048  # ... scored against negatives from a fixed random sub-pool of this size
    select_on: str = "validation"  # validation | test (the paper kept the best on test)
    # Which checkpoint the run keeps: its best check, or its last (for a pretraining, a starting
    # point rather than a point of a law: fine-tuned from its last check, L1-H32 came out 0.07
    # lower on average over 4 draws; research/design-log.md, "Which checkpoint a pretraining keeps").
    keep: str = "best"  # best | last
    # How a new model's H -> 768 projection starts: "torch" (nn.Linear's own: uniform in
    # +-1/sqrt(H), as the paper's code) or "bert" (normal with BERT's initializer_range, 0.02, and
    # a zero bias, as every other layer of the backbone). The torch scale gives raw inner
    # products whose random spread at the start is wider the narrower the shape (a start loss
    # 2.1x chance for L1-H8, 1.1x for L1-H128); "bert" starts the scores near zero (the loss at
    # chance) and lets training grow them; "xavier" (Glorot's normal, std sqrt(2/(H+768)), zero
    # bias) draws every width at about the scale torch gives L1-H128.
    projection_init: str = "torch"  # torch | bert | xavier
    stall_margin: float = 0.25  # not learning: validation CLL above chance - margin after warmup
    projection_dim: int = 768
    threads: int = 0  # CPU threads (0: all cores)
    bf16: bool = True  # bf16 autocast for training on a GPU
    # ... and on a CPU: 1.4-1.9x faster per step here, where the CPU has bf16 matrix instructions
    # (AVX512-BF16, AMX), much slower where it has not. Evaluation on a CPU stays fp32.
    cpu_bf16: bool = False
    # Evaluation (the periodic checks and the final one) in bf16 on a GPU; false: fp32 there
    # too, as on a CPU. The result records it ("eval_precision").
    eval_bf16: bool = False
    # Dropout of every dropout layer of the encoder (hidden and attention); null: the model's
    # own (0.1 in BERT). A regulariser for small D, where from-scratch and lightly pretrained
    # models memorise their pairs within two passes.
    dropout: float | None = None
    # The step budget from D: a run of D pairs trains ceil(passes * D / batch_size) steps (at
    # least min_steps) instead of `steps`, so that every D is gone over equally often;
    # checks_per_pass puts a validation check every 1/checks_per_pass of a pass, and
    # warmup_fraction makes the warmup that share of the run. Resolved per run at planning
    # (for_n_train), so a run's spec holds its actual steps.
    passes: float | None = None
    min_steps: int = 0
    checks_per_pass: float | None = None
    warmup_fraction: float | None = None

    def for_n_train(self, n_train: int) -> "TrainingConfig":
        """These settings for a run of ``n_train`` pairs (``passes``, ``checks_per_pass`` and
        ``warmup_fraction`` applied; unchanged when they are not set)."""
        steps = self.steps
        if self.passes is not None:
            steps = max(self.min_steps, math.ceil(self.passes * n_train / self.batch_size))
        eval_every = self.eval_every
        if self.checks_per_pass is not None:
            eval_every = max(1, round(n_train / self.batch_size / self.checks_per_pass))
        warmup = self.warmup_steps if self.warmup_fraction is None else round(self.warmup_fraction * steps)
        return dataclasses.replace(self, steps=steps, eval_every=min(eval_every, steps), warmup_steps=warmup)

    def __post_init__(self):
        for name in ("passes", "checks_per_pass"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigError(f"training.{name}: expected a positive number or null, got {value!r}")
        if self.warmup_fraction is not None and not 0 <= self.warmup_fraction < 1:
            raise ConfigError(f"training.warmup_fraction: expected a share in [0, 1) or null, got {self.warmup_fraction!r}")
        if self.dropout is not None and not 0 <= self.dropout < 1:
            raise ConfigError(f"training.dropout: expected a probability in [0, 1) or null, got {self.dropout!r}")
        if self.schedule not in ("linear", "cosine", "constant"):
            raise ConfigError(f"training.schedule: expected linear, cosine or constant, got {self.schedule!r}")
        if self.select_on not in ("validation", "test"):
            raise ConfigError(f"training.select_on: expected validation or test, got {self.select_on!r}")
        if self.keep not in ("best", "last"):
            raise ConfigError(f"training.keep: expected best or last, got {self.keep!r}")
        if self.projection_init not in ("torch", "bert", "xavier"):
            raise ConfigError(f"training.projection_init: expected torch, bert or xavier, got {self.projection_init!r}")
        for name in ("steps", "batch_size", "eval_every", "eval_pairs", "max_query_length", "max_passage_length"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"training.{name}: expected a positive integer, got {getattr(self, name)}")


@dataclass(frozen=True)
class GridConfig:
    """Which runs the profile trains. A shape is a mapping with ``layers`` and ``hidden`` (a
    BERT trained from scratch) or ``pretrained`` (a path or hub id), plus optional
    ``training`` overrides (e.g. a smaller learning rate for deep shapes)."""

    annotation: str = "human"
    seeds: tuple[int, ...] = (0,)
    # model-size sweep: every shape at one D (null: the largest subset size)
    model_size_shapes: tuple[dict, ...] = ()
    model_size_n_train: int | None = None
    # data-size sweep: one shape at every D (empty: all subset sizes)
    data_size_shape: dict | None = None
    data_size_n_train: tuple[int, ...] = ()
    # joint (N, D) grid: every shape x every D
    joint_shapes: tuple[dict, ...] = ()
    joint_n_train: tuple[int, ...] = ()
    joint_seeds: tuple[int, ...] | None = None  # null: seeds
    # annotation-quality study (notebook 04): one shape trained at every D of annotation_n_train
    # on the pairs of each method ({method: ict, keep_sentence_prob: 0.1}, {method: noisy_human,
    # rate: 0.3}, ...; see drscaling.annotation.methods). Its runs are planned with sweeps=("annotation",).
    annotation_shape: dict | None = None  # null: data_size_shape
    annotation_n_train: tuple[int, ...] = ()
    annotation_methods: tuple[dict, ...] = ()
    # A pretraining stage (null: every shape is trained from scratch): each shape of the grid is
    # first trained once on ``n_train`` pairs of an annotation method made from the training
    # passages alone ({method: ict, keep_sentence_prob: 0.1, n_train: 54606, seed: 0, training:
    # {...overrides}}), and every run of that shape starts from its kept checkpoint, as the
    # paper's runs start from a pretrained BERT. Its runs are planned with sweeps=("pretraining",).
    # seed: run pretrains each shape once per seed of its runs (each seed its own pretraining).
    pretraining: dict | None = None
    executor: str = "local"  # local | ray
    # local: runs at a time, each in its own process. On a small CPU two one-thread runs side by
    # side beat one run on two threads (set training.threads to cores / workers).
    workers: int = 1
    ray_address: str | None = None  # an existing cluster ("auto", "ray://host:10001"); null: start one
    gpus_per_run: float = 1.0  # where the cluster has GPUs

    def __post_init__(self):
        if self.executor not in ("local", "ray"):
            raise ConfigError(f"grid.executor: expected local or ray, got {self.executor!r}")
        if not isinstance(self.workers, int) or self.workers < 1:
            raise ConfigError(f"grid.workers: expected a positive integer, got {self.workers!r}")


@dataclass(frozen=True)
class Profile:
    name: str
    dataset: str  # folder name under data/processed/
    data: DataConfig
    training: TrainingConfig = field(default_factory=TrainingConfig)
    grid: GridConfig = field(default_factory=GridConfig)
    description: str = ""
    notebooks: dict = field(default_factory=dict)  # notebook name -> extra papermill parameters
    path: Path | None = None  # the YAML file it was read from
    # false: notebooks 03-06 refuse to work on a grid with failed or pending runs; true: they
    # go on without them and name the missing points in their tables, figures and fits.json
    allow_missing_runs: bool = False

    @property
    def processed_dir(self) -> Path:
        return paths.processed_dir(self.dataset)

    @property
    def outputs_dir(self) -> Path:
        return paths.outputs_dir(self.name)


SECTIONS = {"data": DataConfig, "training": TrainingConfig, "grid": GridConfig}


def _check_type(value, annotation, where: str):
    """A light check of YAML values against the dataclass annotations (str, int, bool,
    float, lists, dicts, optional)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _check_type(value, inner, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return tuple(_check_type(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
    if annotation is dict or origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is float and isinstance(value, str):
        try:  # YAML 1.1 reads 2e-3 (no dot) as a string
            return float(value)
        except ValueError:
            raise ConfigError(f"{where}: expected float, got {value!r}") from None
    if annotation in (int, float, str, bool):
        if not isinstance(value, annotation) or (annotation is int and isinstance(value, bool)):
            raise ConfigError(f"{where}: expected {annotation.__name__}, got {value!r}")
    return value


def from_dict(cls, values: dict | None, where: str):
    """Build dataclass ``cls`` from a mapping; unknown keys and wrong types are errors."""
    values = values or {}
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known keys: {sorted(known)}")
    kwargs = {k: _check_type(v, hints[k], f"{where}.{k}") for k, v in values.items()}
    try:
        return cls(**kwargs)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None


def profile_path(profile: str | Path) -> Path:
    """A profile name (``configs/<name>.yaml``) or a path to a YAML file."""
    p = Path(profile)
    if p.suffix in (".yaml", ".yml"):
        return p if p.is_absolute() else (Path.cwd() / p)
    path = paths.CONFIGS / f"{profile}.yaml"
    if not path.is_file():
        known = sorted(q.stem for q in paths.CONFIGS.glob("*.yaml") if q.stem != "paper_reported")
        raise ConfigError(f"no profile {profile!r}: {path} does not exist (profiles: {known})")
    return path


def load_profile(profile: str | Path) -> Profile:
    path = profile_path(profile)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    top = {"dataset", "description", "notebooks", "allow_missing_runs", *SECTIONS}
    unknown = sorted(set(raw) - top)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown}; known keys: {sorted(top)}")
    dataset = raw.get("dataset")
    if not isinstance(dataset, str) or not re.fullmatch(r"[A-Za-z0-9._-]+", dataset):
        raise ConfigError(f"{path}: dataset: expected a folder name of letters, digits, '.', '_', '-', got {dataset!r}")
    notebooks = raw.get("notebooks") or {}
    if not isinstance(notebooks, dict) or not all(isinstance(v, dict) or v is None for v in notebooks.values()):
        raise ConfigError(f"{path}: notebooks: expected a mapping of notebook name -> parameters")
    sections = {name: from_dict(cls, raw.get(name), f"{path}: {name}") for name, cls in SECTIONS.items()}
    return Profile(
        name=path.stem,
        dataset=dataset,
        description=str(raw.get("description", "")),
        notebooks={k: dict(v or {}) for k, v in notebooks.items()},
        path=path,
        allow_missing_runs=_check_type(raw.get("allow_missing_runs", False), bool, f"{path}: allow_missing_runs"),
        **sections,
    )
