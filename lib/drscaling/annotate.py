"""Ways of annotating training pairs (paper Section 5): corpus passages -> (query, positive).

Every method makes one query per passage in each round over the training passages, and is
seeded, so a run is reproducible:

- ``human``: the dataset's own questions (the nested training subset);
- ``noisy_human``: the same, with a fraction ``rate`` of positives replaced by random passages;
- ``ict``: inverse cloze task (a sentence of the passage is the query);
- ``crop``: two independent random spans of the passage (Contriever-style cropping);
- ``keywords``: the passage's k highest TF-IDF terms (optionally without stop words and with
  sublinear tf), or with ``sample`` k terms drawn in proportion to their TF-IDF weight, so that a
  passage met again (more pairs than passages) gets another query;
- ``generated``: queries written by a local text-generation model (e.g. docT5query).

``rng`` arguments take a ``numpy.random.Generator`` or an int seed.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .fileio import atomic_path, sha256_json

METHODS = ("human", "noisy_human", "ict", "crop", "keywords", "generated")
# generate_queries' options: greedy unless do_sample (then top_k, temperature); no_repeat_ngram_size
# n > 0: no n-gram twice in a query
DECODING_OPTIONS = ("max_new_tokens", "batch_size", "do_sample", "top_k", "temperature", "no_repeat_ngram_size")
# The options each method takes (a profile's annotation_methods entries are checked against
# these) and the ones it cannot do without.
OPTIONS = {
    "human": (),
    "noisy_human": ("rate",),
    "ict": ("keep_sentence_prob",),
    "crop": ("min_ratio", "max_ratio"),
    "keywords": ("k", "stop_words", "sublinear_tf", "sample"),
    # model_path "local": the generator trained here (drscaling.query_generator; "generator":
    # its settings); then how it decodes (generate_queries' options)
    "generated": ("model_path", "generator", *DECODING_OPTIONS),
}
REQUIRED = {"noisy_human": ("rate",), "generated": ("model_path",)}
PAIR_COLUMNS = ["qid", "pid", "query", "method"]
SUGGESTED_GENERATOR = "castorini/doc2query-t5-base-msmarco"


class ModelNotAvailableError(RuntimeError):
    """The query-generation model is not on this machine; the ``generated`` method is skipped."""


def _rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


# ---------------------------------------------------------------- sentences and terms

# A sentence ends at a run of . ! ? followed by whitespace or the end of the text, or at a run
# of the CJK full-width 。！？ (Chinese text has no spaces between sentences, so these always end
# one). Abbreviations ("e.g. x") are split too: the splitter is deliberately simple.
_BOUNDARY = re.compile(r"[.!?]+(?=\s|$)|[。！？]+")
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Terms: lower-cased runs of letters/digits; every CJK character is a term of its own.
_TERM = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each non-empty sentence of ``text``, without surrounding whitespace."""
    spans: list[tuple[int, int]] = []

    def add(s: int, e: int) -> None:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            spans.append((s, e))

    start = 0
    for m in _BOUNDARY.finditer(text):
        add(start, m.end())
        start = m.end()
    add(start, len(text))
    return spans


def split_sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def terms(text: str) -> list[str]:
    return _TERM.findall(text.lower())


# ---------------------------------------------------------------- methods

def human_pairs(data, n_pairs: int) -> pd.DataFrame:
    """The first ``n_pairs`` pairs of the nested training subset, with their question texts."""
    pairs = data.subset(n_pairs)
    q = data.queries("train")
    text = dict(zip(q["qid"], q["text"]))
    missing = [x for x in pairs["qid"] if x not in text]
    if missing:
        raise KeyError(f"{len(missing)} training qids have no question text, e.g. {missing[:3]}")
    out = pairs[["qid", "pid"]].reset_index(drop=True).copy()
    out["query"] = [text[x] for x in out["qid"]]
    return out


def ict(passage: str, rng, keep_sentence_prob: float = 0.1) -> tuple[str, str]:
    """Inverse cloze task: a random sentence is the query; the positive is the passage without it,
    except with probability ``keep_sentence_prob`` where the sentence stays in.

    A passage of one sentence (or none) gives (that sentence, the whole passage).
    """
    rng = _rng(rng)
    spans = sentence_spans(passage)
    if len(spans) <= 1:
        return passage.strip(), passage
    i = int(rng.integers(len(spans)))
    keep = bool(rng.random() < keep_sentence_prob)
    s, e = spans[i]
    query = passage[s:e]
    if keep:
        return query, passage
    if i + 1 < len(spans):
        positive = passage[:s] + passage[spans[i + 1][0]:]
    else:
        positive = passage[:s]
    return query, positive.strip()


def _units(text: str) -> tuple[list[str], str]:
    """Words (joined by spaces) or, for text without whitespace (Chinese), characters."""
    stripped = text.strip()
    if re.search(r"\s", stripped):
        return stripped.split(), " "
    return list(stripped), ""


def _span(units: list[str], rng: np.random.Generator, min_ratio: float, max_ratio: float) -> list[str]:
    n = len(units)
    lo = max(1, math.ceil(min_ratio * n))
    hi = max(lo, math.floor(max_ratio * n))
    lo, hi = min(lo, n), min(hi, n)
    length = int(rng.integers(lo, hi + 1))
    start = int(rng.integers(0, n - length + 1))
    return units[start:start + length]


def crop(passage: str, rng, min_ratio: float = 0.1, max_ratio: float = 0.5) -> tuple[str, str]:
    """Two independent random contiguous spans (query, positive) of the passage's words.

    Each length is an integer drawn uniformly in [ceil(min_ratio*n), floor(max_ratio*n)], at
    least 1 word (so very short passages can give spans longer than ``max_ratio``). Text without
    whitespace is cropped by characters.
    """
    if not 0 < min_ratio <= max_ratio <= 1:
        raise ValueError(f"need 0 < min_ratio <= max_ratio <= 1, got {min_ratio}, {max_ratio}")
    rng = _rng(rng)
    units, sep = _units(passage)
    if not units:
        return passage, passage
    return sep.join(_span(units, rng, min_ratio, max_ratio)), sep.join(_span(units, rng, min_ratio, max_ratio))


def idf_table(texts: Iterable[str]) -> dict[str, float]:
    """Smoothed inverse document frequency, ``log((1 + N) / (1 + df)) + 1``, over ``texts``."""
    df: Counter = Counter()
    n = 0
    for t in texts:
        n += 1
        df.update(set(terms(t)))
    return {w: math.log((1 + n) / (1 + c)) + 1.0 for w, c in df.items()}


# Stop-word lists for keywords: bm25s's (the library BM25 uses here). "en" is its longer English
# list (179 words, pronouns such as "her" and "she" included), "zh" its Chinese one.
KEYWORD_STOP_WORDS = {"en": "STOPWORDS_EN_PLUS", "zh": "STOPWORDS_CHINESE"}


@functools.lru_cache(maxsize=None)  # once per list, not once per passage
def stop_word_set(name: str | None) -> frozenset[str]:
    if name is None:
        return frozenset()
    if name not in KEYWORD_STOP_WORDS:
        raise ValueError(f"keywords stop_words: expected one of {', '.join(KEYWORD_STOP_WORDS)} or null, got {name!r}")
    import bm25s.stopwords

    return frozenset(getattr(bm25s.stopwords, KEYWORD_STOP_WORDS[name]))


def keyword_terms(passage: str, idf: dict, k: int = 5, stop_words: str | None = None,
                  sublinear_tf: bool = False, sample_rng=None) -> list[str]:
    """The passage's ``k`` highest terms by tf * idf; ties go to the term seen first in the
    passage. A term missing from ``idf`` counts as the rarest one in it.

    The defaults are the original baseline (raw term count, no stop words), which can pick
    function words ("her she line"). ``stop_words`` ("en", "zh") leaves that list's words out;
    ``sublinear_tf`` weighs a term by ``1 + log(tf)`` instead of its count, so a repeated common
    word does not outrank a rare one. ``sample_rng`` (a Generator or seed): ``k`` terms drawn
    without replacement, each draw in proportion to the weights left (Gumbel top-k), highest
    weight first."""
    stop = stop_word_set(stop_words)
    toks = [w for w in terms(passage) if w not in stop]
    tf = Counter(toks)
    first: dict[str, int] = {}
    for i, w in enumerate(toks):
        first.setdefault(w, i)
    unseen = max(idf.values(), default=1.0)

    def weight(w: str) -> float:
        return (1.0 + math.log(tf[w]) if sublinear_tf else tf[w]) * idf.get(w, unseen)

    ranked = sorted(tf, key=lambda w: (-weight(w), first[w]))
    if sample_rng is None:
        return ranked[:k]
    keys = np.log([weight(w) for w in ranked]) + _rng(sample_rng).gumbel(size=len(ranked))
    drawn = sorted(np.argsort(-keys, kind="stable")[:k])  # indices into ranked: highest weight first
    return [ranked[i] for i in drawn]


def keywords(passage: str, idf: dict, k: int = 5, rng=None, stop_words: str | None = None,
             sublinear_tf: bool = False, sample: bool = False) -> tuple[str, str]:
    """(the k most distinctive terms joined by spaces, the passage). Deterministic unless
    ``sample``: then k terms drawn by ``rng`` in proportion to their weight."""
    return " ".join(keyword_terms(passage, idf, k, stop_words, sublinear_tf, rng if sample else None)), passage


def noisy_pairs(pairs: pd.DataFrame, passage_ids: Sequence, rate: float, rng) -> pd.DataFrame:
    """Replace exactly ``round(rate * len(pairs))`` positives (rows drawn without replacement) by
    random passages of ``passage_ids`` different from the original; column ``noisy`` marks them."""
    if not 0 <= rate <= 1:
        raise ValueError(f"rate must be in [0, 1], got {rate}")
    rng = _rng(rng)
    ids = list(dict.fromkeys(passage_ids))
    pos = {p: i for i, p in enumerate(ids)}
    out = pairs.reset_index(drop=True).copy()
    n = int(round(rate * len(out)))
    rows = np.sort(rng.choice(len(out), size=n, replace=False)) if n else np.array([], dtype=int)
    new_pids = list(out["pid"])
    for r in rows:
        orig = new_pids[r]
        j0 = pos.get(orig)
        choices = len(ids) - (j0 is not None)
        if choices < 1:
            raise ValueError("need at least two distinct passage ids to make noisy pairs")
        j = int(rng.integers(choices))
        if j0 is not None and j >= j0:
            j += 1
        new_pids[r] = ids[j]
    noisy = np.zeros(len(out), dtype=bool)
    noisy[rows] = True
    out["pid"] = pd.Series(new_pids, dtype=out["pid"].dtype)
    out["noisy"] = noisy
    return out


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
    ok, why = model_available("generated", {"model_path": model_path})
    if not ok:
        raise ModelNotAvailableError(why)
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    from .query_generator import copy_t5_classes

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


# ---------------------------------------------------------------- annotation of a dataset

def training_passages(data) -> list:
    """The distinct pids of ``data.qrels("train")``, in order of first appearance."""
    return list(pd.unique(data.qrels("train")["pid"]))


def annotate(data, method: str, n_pairs: int, seed: int, **options) -> pd.DataFrame:
    """``n_pairs`` annotated pairs (qid, pid, query, method, positive) made by ``method``.

    ``positive`` is the positive's text as the method made it (ICT removes the query sentence,
    crop takes a span; otherwise the corpus passage).

    ``human``: the first ``n_pairs`` rows of ``data.subset``, with their questions and qids.
    ``noisy_human`` (option ``rate``): the same with noisy positives (column ``noisy``).
    Other methods draw ``n_pairs`` training passages (seeded order, without replacement within a
    round over the passages; more pairs than passages take further rounds) and make one query each, with qids ``f"{method}-{seed}-{i}"``. Options are passed on to the method
    (``keywords`` also takes a precomputed ``idf``; ``generated`` takes ``model_path`` etc.).
    """
    if method not in METHODS:
        raise ValueError(f"unknown annotation method {method!r}; choose from {', '.join(METHODS)}")
    if n_pairs < 0:
        raise ValueError(f"n_pairs must be >= 0, got {n_pairs}")
    if method in ("human", "noisy_human"):
        out = human_pairs(data, n_pairs)
        if method == "noisy_human":
            if "rate" not in options:
                raise ValueError("method 'noisy_human' needs the option rate (fraction of noisy positives)")
            rng = np.random.default_rng([seed, 1])
            out = noisy_pairs(out, training_passages(data), options["rate"], rng)
        out["method"] = method
        text_of = dict(zip(data.corpus["pid"], data.corpus["text"]))
        out["positive"] = [text_of[p] for p in out["pid"]]
        return out[PAIR_COLUMNS + ["positive"] + (["noisy"] if method == "noisy_human" else [])]

    pool = training_passages(data)
    if n_pairs and not pool:
        raise ValueError(f"asked for {n_pairs:,} pairs, but there is no training passage")
    order = passage_order(len(pool), seed, n_pairs)
    pids = [pool[i] for i in order]
    corpus = data.corpus
    text_of = dict(zip(corpus["pid"], corpus["text"]))
    passages = [text_of[p] for p in pids]
    rng = np.random.default_rng([seed, 2])

    if method == "ict":
        made = [ict(p, rng, **options) for p in passages]
    elif method == "crop":
        made = [crop(p, rng, **options) for p in passages]
    elif method == "keywords":
        opts = dict(options)
        idf = opts.pop("idf", None)
        if idf is None:
            idf = idf_table(corpus["text"])
        made = [keywords(p, idf, rng=rng, **opts) for p in passages]
    else:  # generated
        from .query_generator import model_identity, resolve_model_path

        opts = dict(options)
        written, generator = opts.pop("model_path", None), opts.pop("generator", None)
        model_path = resolve_model_path(data, written, generator)
        queries = generated_queries(data, pool, pids, seed, model_path, opts,
                                    model_id=model_identity(data, written, generator))
        made = list(zip(queries, passages))
    return pd.DataFrame(
        {
            "qid": [f"{method}-{seed}-{i}" for i in range(n_pairs)],
            "pid": pd.Series(pids, dtype=corpus["pid"].dtype),
            "query": [q for q, _ in made],
            "method": method,
            "positive": [p for _, p in made],
        },
        columns=PAIR_COLUMNS + ["positive"],
    )


def passage_order(n_pool: int, seed: int, n: int) -> np.ndarray:
    """The first ``n`` indices of the seed's order over ``n_pool`` training passages: rounds over
    the passages, each in a new seeded order (ICT takes another random sentence of a passage each
    round). The order for ``n`` is a prefix of the order for any larger ``n``."""
    rng = np.random.default_rng([seed, 0])
    rounds = -(-n // n_pool) if n_pool else 0
    return np.concatenate([rng.permutation(n_pool) for _ in range(max(rounds, 1))])[:n]


GENERATION_CHUNK = 1024  # training passages written and cached together by the generated method


def generated_queries(data, pool: list, pids: list, seed: int, model_path: str, options: dict,
                      model_id: str | None = None) -> list[str]:
    """The generated queries of ``pids`` (training passages of ``pool``).

    Written in chunks of :data:`GENERATION_CHUNK` passages of the pool's fixed order, each
    decoded with its own seed ``(seed, chunk)``, so that a passage's query depends only on its
    chunk and the seed, not on how many pairs were asked for or in which order: the nested
    subsets of a study share their queries, and greedy decoding (whose queries no seed changes)
    shares them between seeds too. With a prepared dataset folder (``data.dir``) each chunk is
    kept under ``annotations/generated/<digest>/`` (digest of the model, named by ``model_id``
    when given, else by ``model_path``; the decoding options, the seed when sampling, and the
    data) and written once."""
    text_of = dict(zip(data.corpus["pid"], data.corpus["text"]))
    chunk_of = {pid: i // GENERATION_CHUNK for i, pid in enumerate(pool)}
    sampled = bool(options.get("do_sample"))
    folder = None
    if getattr(data, "dir", None) is not None:
        digest = sha256_json({"model_path": model_id or str(model_path), "options": options, "seed": seed if sampled else None,
                              "data_key": data.manifest["key"], "chunk": GENERATION_CHUNK})[:16]
        folder = Path(data.dir) / "annotations" / "generated" / digest
    query_of = {}
    for k in sorted({chunk_of[p] for p in pids}):
        chunk = pool[k * GENERATION_CHUNK:(k + 1) * GENERATION_CHUNK]
        path = None if folder is None else folder / f"chunk-{k:05d}.parquet"
        if path is not None and path.is_file():
            queries = pd.read_parquet(path)["query"].tolist()
        else:
            queries = generate_queries([text_of[p] for p in chunk], model_path,
                                       seed=(seed if sampled else 0) * 100_003 + k, **options)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                write_pairs(pd.DataFrame({"query": queries}), path)
        query_of.update(zip(chunk, queries))
    return [query_of[p] for p in pids]


# ---------------------------------------------------------------- methods as settings

def check_method(method: str, options: dict, where: str = "annotation") -> None:
    """Raise ValueError naming ``where`` if ``method`` is unknown or its options are not its own."""
    if method not in METHODS:
        raise ValueError(f"{where}: unknown annotation method {method!r}; choose from {', '.join(METHODS)}")
    unknown = sorted(set(options) - set(OPTIONS[method]))
    if unknown:
        allowed = ", ".join(OPTIONS[method]) or "none"
        raise ValueError(f"{where}: method {method!r} takes no option(s) {unknown} (its options: {allowed})")
    missing = [k for k in REQUIRED.get(method, ()) if k not in options]
    if missing:
        raise ValueError(f"{where}: method {method!r} needs the option(s) {missing}")
    if method == "keywords" and not isinstance(options.get("sample", False), bool):
        raise ValueError(f"{where}: sample: expected true or false, got {options['sample']!r}")
    if method == "noisy_human":
        rate = options["rate"]
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"{where}: rate: expected a fraction in [0, 1], got {rate!r}")


def new_query_per_round(method: str, options: dict | None = None) -> bool:
    """Whether a passage met again (more pairs than training passages) gets another query: ICT
    (another sentence), crop (other spans) and sampled keywords draw anew; the top-k keywords
    and a generator would repeat themselves, so their D is capped by the number of passages."""
    return method in ("ict", "crop") or (method == "keywords" and bool((options or {}).get("sample")))


def method_label(method: str, options: dict | None = None) -> str:
    """A short readable name: the method, and for ``noisy_human`` its rate (``noisy_human-0.3``),
    for ``keywords`` its stop words, sublinear tf and sampling when set
    (``keywords-stop-sublinear-sampled``), for
    ``generated`` its model's last path component. Other options do not show in the label
    (run ids still differ through their digest)."""
    if method == "noisy_human" and options and "rate" in options:
        return f"noisy_human-{float(options['rate']):g}"
    if method == "keywords" and options and any(options.get(k) for k in ("stop_words", "sublinear_tf", "sample")):
        # the fairer baseline (issue 15) beside the original in one study: two labels
        return "-".join(["keywords"] + (["stop"] if options.get("stop_words") else [])
                        + (["sublinear"] if options.get("sublinear_tf") else [])
                        + (["sampled"] if options.get("sample") else []))
    if method == "generated" and options and options.get("model_path"):
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", str(options["model_path"]).rstrip("/\\").replace("\\", "/")
                      .rsplit("/", 1)[-1]).strip("._-")
        return f"generated-{name[:40]}" if name else method
    return method


def model_available(method: str, options: dict) -> tuple[bool, str]:
    """(True, "") unless the method needs a model that is not on this machine."""
    if method != "generated":
        return True, ""
    path = options.get("model_path")
    hint = (f"(e.g. {SUGGESTED_GENERATOR}: a hub id, or its folder saved with save_pretrained; or 'local' for "
            f"a generator trained here; set model_path)")
    if path is None:
        return False, f"the 'generated' method is skipped: no model_path {hint}"
    if path == "local":  # trained here on the training pairs (drscaling.query_generator)
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


def pairs_path(data, method: str, n_pairs: int, seed: int, options: dict | None = None) -> Path:
    """Where :func:`stored_pairs` keeps a method's pairs: beside the prepared data, so they go
    with it when it is prepared again; the name carries a digest of method and options."""
    options = dict(options or {})
    key = sha256_json({"method": method, "options": options, "n_pairs": n_pairs, "seed": seed,
                       "data_key": data.manifest["key"]})[:10]
    return Path(data.dir) / "annotations" / f"{method_label(method, options)}-D{n_pairs}-s{seed}-{key}.parquet"


def stored_pairs(data, method: str, n_pairs: int, seed: int, options: dict | None = None) -> pd.DataFrame:
    """:func:`annotate`'s pairs, made once and then read back from :func:`pairs_path`
    (``human`` pairs are the prepared subsets themselves: not stored again)."""
    options = dict(options or {})
    check_method(method, options)
    if method == "human":
        return annotate(data, method, n_pairs, seed)
    path = pairs_path(data, method, n_pairs, seed, options)
    if path.is_file():
        return read_pairs(path)
    frame = annotate(data, method, n_pairs, seed, **options)
    write_pairs(frame, path)
    return frame


def write_pairs(frame: pd.DataFrame, path) -> None:
    """Write annotated pairs as parquet, atomically."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def read_pairs(path) -> pd.DataFrame:
    return pd.read_parquet(path)
