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

Making a dataset's pairs with them, and keeping them: :mod:`.pairs`.

``rng`` arguments take a ``numpy.random.Generator`` or an int seed.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
from collections import Counter
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .generator import DECODING_OPTIONS, generator_available

METHODS = ("human", "noisy_human", "ict", "crop", "keywords", "generated")
# The options each method takes (a profile's annotation_methods entries are checked against
# these) and the ones it cannot do without.
OPTIONS = {
    "human": (),
    "noisy_human": ("rate",),
    "ict": ("keep_sentence_prob",),
    "crop": ("min_ratio", "max_ratio"),
    "keywords": ("k", "stop_words", "sublinear_tf", "sample"),
    # model_path "local": the generator trained here (drscaling.annotation.generator; "generator":
    # its settings); then how it decodes (generate_queries' options)
    "generated": ("model_path", "generator", *DECODING_OPTIONS),
}
REQUIRED = {"noisy_human": ("rate",), "generated": ("model_path",)}
PAIR_COLUMNS = ["qid", "pid", "query", "method"]


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


def with_defaults(method: str, options: dict | None) -> dict:
    """``options`` completed with the defaults of the method's own function (ict, crop, keywords):
    the settings a method actually ran with, for the text that describes it."""
    fn = {"ict": ict, "crop": crop, "keywords": keywords}.get(method)
    defaults = {} if fn is None else {
        k: p.default for k, p in inspect.signature(fn).parameters.items()
        if k in OPTIONS[method] and p.default is not inspect.Parameter.empty}
    return {**defaults, **(options or {})}


def model_available(method: str, options: dict) -> tuple[bool, str]:
    """(True, "") unless the method needs a model that is not on this machine."""
    if method != "generated":
        return True, ""
    return generator_available(options.get("model_path"))
