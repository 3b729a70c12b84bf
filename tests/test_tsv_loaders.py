import gzip
import sys
import types
from collections import namedtuple

import pytest

from drscaling.datasets import DataFormatError, load_msmarco, load_t2ranking
from drscaling.datasets.msmarco import load_msmarco_ir_datasets


def write(path, lines, gz=False):
    text = "".join(line + "\n" for line in lines).encode()
    path.write_bytes(gzip.compress(text) if gz else text)
    return path


def msmarco_dir(tmp_path, gz=False):
    write(tmp_path / "collection.tsv", ["0\tpassage zero", "1\tpassage one\twith a tab", "2\tpassage two", "3\tthree"], gz)
    write(tmp_path / "queries.train.tsv", ["10\tquery ten", "11\tquery eleven", "12\tno judgement"], gz)
    write(tmp_path / "qrels.train.tsv", ["10\t0\t0\t1", "10\t0\t1\t1", "11\t0\t2\t1"], gz)
    write(tmp_path / "queries.dev.small.tsv", ["20\tdev query"], gz)
    write(tmp_path / "qrels.dev.small.tsv", ["20\t0\t3\t1"], gz)
    return tmp_path


@pytest.mark.parametrize("gz", [False, True])
def test_msmarco_files(tmp_path, gz):
    ds = load_msmarco(msmarco_dir(tmp_path, gz))
    assert len(ds.corpus) == 4 and ds.corpus["1"] == "passage one\twith a tab"
    assert set(ds.splits) == {"train", "test"}
    assert ds.splits["train"].qrels == {"10": ["0", "1"], "11": ["2"]}
    assert "12" not in ds.splits["train"].queries  # queries without a judgement are dropped
    assert ds.splits["train"].n_pairs == 3 and ds.splits["test"].queries == {"20": "dev query"}


def test_t2ranking_headers_and_two_column_qrels(tmp_path):
    write(tmp_path / "collection.tsv", ["pid\ttext", "0\t第一段", "1\t第二段"])
    write(tmp_path / "queries.train.tsv", ["qid\ttext", "5\t问题一"])
    write(tmp_path / "qrels.retrieval.train.tsv", ["qid\tpid", "5\t1"])
    write(tmp_path / "queries.dev.tsv", ["qid\ttext", "6\t问题二"])
    write(tmp_path / "qrels.retrieval.dev.tsv", ["qid\tpid", "6\t0"])
    ds = load_t2ranking(tmp_path)
    assert ds.corpus == {"0": "第一段", "1": "第二段"}
    assert ds.splits["train"].qrels == {"5": ["1"]} and ds.splits["test"].queries == {"6": "问题二"}


def test_trec_qrels_relevance_threshold(tmp_path):
    d = msmarco_dir(tmp_path)
    write(d / "qrels.train.tsv", ["10 0 0 2", "10 0 1 0", "11 0 2 1"])  # spaces, graded
    ds = load_msmarco(d)
    assert ds.splits["train"].qrels == {"10": ["0"], "11": ["2"]}


@pytest.mark.parametrize("file, lines, match", [
    ("qrels.train.tsv", ["10\t0\t99\t1"], r"qrels\.train\.tsv: record query '10', field 'pid'.*\['99'\]"),
    ("qrels.train.tsv", ["77\t0\t0\t1"], r"qrels\.train\.tsv: record query '77', field 'qid'"),
    ("qrels.train.tsv", ["10\t0\t0"], r"qrels\.train\.tsv: record line 1, field 'qrels': 2 fields"),
    ("qrels.train.tsv", ["10\t0\t0\thigh"], r"line 1, field 'relevance': a number"),
    ("collection.tsv", ["0\ta", "0\tb"], r"collection\.tsv: record line 2, field 'id'.*'0' occurs twice"),
    ("collection.tsv", ["0\ta", "1\t  "], r"collection\.tsv: record line 2 \(id '1'\), field 'passage': a non-empty"),
    ("queries.train.tsv", ["10 no tab"], r"queries\.train\.tsv: record line 1, field 'query'"),
])
def test_bad_tsv_is_located(tmp_path, file, lines, match):
    d = msmarco_dir(tmp_path)
    write(d / file, lines)
    with pytest.raises(DataFormatError, match=match):
        load_msmarco(d)


def test_truncated_gzip_tsv(tmp_path):
    d = msmarco_dir(tmp_path)
    full = gzip.compress(("".join(f"{i}\tpassage {i}\n" for i in range(5000))).encode())
    (d / "collection.tsv").write_bytes(full[: len(full) // 2])
    with pytest.raises(DataFormatError, match=r"collection\.tsv.*truncated"):
        load_msmarco(d)


def test_ir_datasets_route(monkeypatch):
    """The adapter over ir_datasets' API (a stand-in module: the real one downloads)."""
    Doc, Query, Qrel = namedtuple("Doc", "doc_id text"), namedtuple("Query", "query_id text"), \
        namedtuple("Qrel", "query_id doc_id relevance iteration")
    docs = [Doc("0", "zero"), Doc("1", "one"), Doc("2", "two")]
    tables = {
        "msmarco-passage/train": ([Query("10", "q ten"), Query("11", "unjudged")], [Qrel("10", "1", 1, "0")]),
        "msmarco-passage/dev/small": ([Query("20", "q twenty")], [Qrel("20", "2", 1, "0"), Qrel("20", "0", 0, "0")]),
    }

    def load(ds_id):
        queries, qrels = tables[ds_id]
        return types.SimpleNamespace(docs_iter=lambda: iter(docs), queries_iter=lambda: iter(queries),
                                     qrels_iter=lambda: iter(qrels))

    monkeypatch.setitem(sys.modules, "ir_datasets", types.SimpleNamespace(load=load))
    ds = load_msmarco_ir_datasets()
    assert ds.corpus == {"0": "zero", "1": "one", "2": "two"}
    assert ds.splits["train"].queries == {"10": "q ten"} and ds.splits["train"].qrels == {"10": ["1"]}
    assert ds.splits["test"].qrels == {"20": ["2"]}


def test_ir_datasets_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ir_datasets", None)
    with pytest.raises(ImportError, match="pip install ir_datasets"):
        load_msmarco_ir_datasets()
