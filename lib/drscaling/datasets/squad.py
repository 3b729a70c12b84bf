"""Files in the SQuAD JSON schema (SQuAD v1.1, CMRC 2018, DRCD), plain or gzipped.

Each question is a query and the paragraph it was asked on is its one relevant passage.
Identical paragraph texts are one passage: a passage's id is derived from its text (after
any script conversion, ``convert``), so the same paragraph in two files (or twice in one) gets
one id.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import zlib
from pathlib import Path

from .base import DataFormatError, RetrievalDataset, Split

GZIP_MAGIC = b"\x1f\x8b"
logger = logging.getLogger(__name__)


def passage_id(text: str) -> str:
    """Stable id of a passage text (first 16 hex digits of its sha1)."""
    return "p" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def read_json_file(path: str | Path):
    """Parse a JSON file, gunzipping it first if it is gzipped (by content, not by name)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    raw = path.read_bytes()
    if not raw.strip():
        raise DataFormatError(path, None, None, f"a JSON document; the file is empty ({len(raw)} bytes)")
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise DataFormatError(path, None, None, f"a complete gzip file; it is truncated or corrupt ({e})") from None
        if not raw.strip():
            raise DataFormatError(path, None, None, "a JSON document; the file is gzipped but holds nothing")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise DataFormatError(path, None, None, f"UTF-8 text ({e})") from None
    except json.JSONDecodeError as e:
        raise DataFormatError(
            path, None, None, f"valid JSON; parsing failed at line {e.lineno}, column {e.colno}: {e.msg} (truncated?)"
        ) from None


def converter(name: str | None):
    """The text conversion ``data.convert`` names (OpenCC's configuration of that name, e.g.
    t2s: traditional Chinese -> simplified), or None for none."""
    if name is None:
        return None
    import opencc

    return opencc.OpenCC(name).convert


def _field(path, record, obj, name, kind, nonempty=False):
    if not isinstance(obj, dict):
        raise DataFormatError(path, record, None, f"a JSON object, found {type(obj).__name__}")
    if name not in obj:
        raise DataFormatError(path, record, name, "is missing")
    value = obj[name]
    if kind is str and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # some SQuAD-schema sets use integer ids
    if not isinstance(value, kind):
        raise DataFormatError(path, record, name, f"a {kind.__name__}, found {type(value).__name__}")
    if nonempty and (not value.strip() if isinstance(value, str) else not value):
        raise DataFormatError(path, record, name, "a non-empty value, found an empty one")
    return value


def load_squad(path: str | Path, limit_articles: int | None = None, name: str | None = None,
               convert: str | None = None, skip_empty_questions: bool = False,
               group_by_title: bool = False) -> RetrievalDataset:
    """Read one SQuAD-schema file into a dataset with a single split named ``"all"``.

    ``limit_articles`` keeps the first articles only (for quick profiles). Passages are grouped
    by article (``groups``), so held-out splits can keep whole articles apart. ``convert``
    names a conversion of questions and paragraphs (:func:`converter`). An empty question is
    an error, unless ``skip_empty_questions`` (then it is left out, with a warning).
    ``group_by_title``: an article's group is its title alone (``title:<title>``), so that
    paragraphs of one Wikipedia article spread over several files (DRCD's dev and test files
    share 255 titles) are one group wherever they come from; an untitled article is
    ``<file>:<index>``.
    """
    path = Path(path)
    conv = converter(convert) or (lambda text: text)
    doc = read_json_file(path)
    data = _field(path, "top level", doc, "data", list)
    articles = data if limit_articles is None else data[:limit_articles]
    corpus: dict[str, str] = {}
    groups: dict[str, str] = {}
    split = Split()
    first_seen: dict[str, str] = {}
    skipped: list[str] = []
    for a_idx, article in enumerate(articles):
        a_rec = f"data[{a_idx}]"
        if not isinstance(article, dict):
            raise DataFormatError(path, a_rec, None, f"a JSON object (an article), found {type(article).__name__}")
        title = article.get("title")
        if group_by_title:
            group = f"title:{title.strip()}" if isinstance(title, str) and title.strip() else f"{path.name}:{a_idx}"
        else:
            group = f"{a_idx}:{title}" if isinstance(title, str) else str(a_idx)
        paragraphs = _field(path, a_rec, article, "paragraphs", list)
        for p_idx, paragraph in enumerate(paragraphs):
            p_rec = f"{a_rec} (title {title!r}) paragraphs[{p_idx}]"
            context = conv(_field(path, p_rec, paragraph, "context", str, nonempty=True))
            qas = _field(path, p_rec, paragraph, "qas", list)
            pid = passage_id(context)
            corpus[pid] = context
            groups.setdefault(pid, group)
            for q_idx, qa in enumerate(qas):
                q_rec = f"{p_rec} qas[{q_idx}]"
                qid = _field(path, q_rec, qa, "id", str, nonempty=True)
                q_rec = f"{q_rec} (id {qid!r})"
                question = _field(path, q_rec, qa, "question", str, nonempty=not skip_empty_questions)
                if qid in first_seen:
                    raise DataFormatError(
                        path, q_rec, "id", f"a unique query id; {qid!r} was already used at {first_seen[qid]}"
                    )
                first_seen[qid] = q_rec
                if not question.strip():
                    skipped.append(qid)
                    continue
                split.queries[qid] = conv(question.strip())
                split.qrels[qid] = [pid]
    if skipped:
        logger.warning(f"{path}: {len(skipped)} empty question(s) left out (data.skip_empty_questions): {skipped}")
    if not split.queries:
        raise DataFormatError(path, "top level", "data", "at least one question; found none")
    return RetrievalDataset(name=name or path.name, corpus=corpus, splits={"all": split}, groups=groups)
