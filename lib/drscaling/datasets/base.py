"""The one dataset type every loader returns, and the error every loader raises on bad input."""

from __future__ import annotations

from dataclasses import dataclass, field


class DataFormatError(ValueError):
    """Bad input, located: the file, the record and the field, and what was expected."""

    def __init__(self, path, record, field_name, expected: str):
        self.path, self.record, self.field, self.expected = str(path), record, field_name, expected
        where = f"{self.path}: record {record}" if record is not None else self.path
        what = f", field '{field_name}'" if field_name else ""
        super().__init__(f"{where}{what}: {expected}")


@dataclass
class Split:
    """Queries of one split and their relevant passages (qrels: query id -> passage ids)."""

    queries: dict[str, str] = field(default_factory=dict)
    qrels: dict[str, list[str]] = field(default_factory=dict)

    @property
    def n_pairs(self) -> int:
        return sum(len(p) for p in self.qrels.values())

    def positives(self) -> set[str]:
        return {pid for pids in self.qrels.values() for pid in pids}


@dataclass
class RetrievalDataset:
    """A corpus (passage id -> text) and, per split, queries and qrels.

    ``groups`` optionally maps a passage id to the group it belongs to (a SQuAD article), so
    that held-out splits can keep whole groups apart; passages without a group are their own.
    """

    name: str
    corpus: dict[str, str]
    splits: dict[str, Split]
    groups: dict[str, str] = field(default_factory=dict)

    def group_of(self, pid: str) -> str:
        return self.groups.get(pid, pid)

    def check(self) -> None:
        """Every qrel points at a corpus passage and a known query."""
        for name, split in self.splits.items():
            for qid, pids in split.qrels.items():
                if qid not in split.queries:
                    raise ValueError(f"{self.name}/{name}: qrels name query {qid!r} with no text")
                missing = [p for p in pids if p not in self.corpus]
                if missing:
                    raise ValueError(
                        f"{self.name}/{name}: query {qid!r} has relevant passage(s) "
                        f"{missing[:3]} that are not in the corpus"
                    )


def merge(name: str, parts: dict[str, RetrievalDataset]) -> RetrievalDataset:
    """One dataset from several single-file ones: corpora united (same id = same text), each
    part's single split renamed to its key (e.g. ``{"train": ..., "test": ...}``).

    A part's ``name`` should be its source file: the errors (a passage id with two texts, a
    query id in two splits) name both files."""
    corpus: dict[str, str] = {}
    corpus_from: dict[str, str] = {}
    groups: dict[str, str] = {}
    splits: dict[str, Split] = {}
    for split_name, part in parts.items():
        for pid, text in part.corpus.items():
            if corpus.setdefault(pid, text) != text:
                raise DataFormatError(
                    part.name, f"passage id {pid!r}", "id",
                    f"the same text as passage {pid!r} of {corpus_from[pid]}; the two texts differ",
                )
            corpus_from.setdefault(pid, part.name)
        for pid, g in part.groups.items():
            groups.setdefault(pid, f"{split_name}:{g}")
        (only,) = part.splits.values()
        splits[split_name] = only
    seen: dict[str, str] = {}
    for split_name, split in splits.items():
        for qid in split.queries:
            if qid in seen:
                raise DataFormatError(
                    parts[split_name].name, f"query id {qid!r}", "id",
                    f"a query id of one file only; it occurs in both {seen[qid]} "
                    f"({parts[seen[qid]].name}) and {split_name} ({parts[split_name].name})",
                )
            seen[qid] = split_name
    return RetrievalDataset(name=name, corpus=corpus, splits=splits, groups=groups)


def pool(name: str, parts: dict[str, RetrievalDataset], split: str = "train") -> RetrievalDataset:
    """One dataset from several single-file ones, all their queries in one split: corpora
    united (same text = one passage), each passage in its part's group as the part names it
    (a passage in two parts: the first part's), so that parts whose groups agree (one
    article's title in two files) are one group and held out together."""
    merged = merge(name, parts)  # checks passage texts and query ids across the parts
    out = Split()
    for part in merged.splits.values():
        out.queries.update(part.queries)
        out.qrels.update(part.qrels)
    groups: dict[str, str] = {}
    for part in parts.values():
        for pid, g in part.groups.items():
            groups.setdefault(pid, g)
    return RetrievalDataset(name=name, corpus=merged.corpus, splits={split: out}, groups=groups)
