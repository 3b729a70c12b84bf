"""The BEIR folder format: corpus.jsonl, queries.jsonl, qrels/<split>.tsv."""

import gzip
import json

import pytest
import yaml

from drscaling.config import ConfigError, load_profile
from drscaling.datasets import DataFormatError, load_beir, prepare_dataset


def write_beir(root, gz=False, corpus=None, queries=None, train=None, test=None):
    root.mkdir(parents=True, exist_ok=True)
    (root / "qrels").mkdir(exist_ok=True)
    corpus = corpus if corpus is not None else [
        json.dumps({"_id": f"d{i}", "title": f"Title {i}" if i % 2 else "", "text": f"passage {i} about topic {i}"})
        for i in range(8)]
    queries = queries if queries is not None else [json.dumps({"_id": f"q{i}", "text": f"what about topic {i}"})
                                                   for i in range(8)]
    train = train if train is not None else ["query-id\tcorpus-id\tscore"] + [f"q{i}\td{i}\t1" for i in range(6)] \
        + ["q0\td7\t0"]  # not relevant: dropped
    test = test if test is not None else ["query-id\tcorpus-id\tscore", "q6\td6\t2", "q7\td7\t1"]

    def put(path, lines):
        data = "".join(line + "\n" for line in lines).encode()
        if gz:
            path.with_name(path.name + ".gz").write_bytes(gzip.compress(data))
        else:
            path.write_bytes(data)

    put(root / "corpus.jsonl", corpus)
    put(root / "queries.jsonl", queries)
    put(root / "qrels" / "train.tsv", train)
    put(root / "qrels" / "test.tsv", test)
    return root


def test_a_beir_folder_loads_with_titles_and_graded_qrels(tmp_path):
    ds = load_beir(write_beir(tmp_path / "toy"))
    assert len(ds.corpus) == 8 and ds.corpus["d1"] == "Title 1 passage 1 about topic 1" and ds.corpus["d0"] == "passage 0 about topic 0"
    assert ds.splits["train"].qrels == {f"q{i}": [f"d{i}"] for i in range(6)}  # score 0 dropped
    assert set(ds.splits["test"].queries) == {"q6", "q7"} and ds.splits["test"].queries["q6"] == "what about topic 6"


def test_a_beir_profile_prepares_from_gzipped_files(tmp_path):
    src = write_beir(tmp_path / "toy", gz=True)
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump({"dataset": "toy", "data": {
        "source": "beir", "search_dirs": [str(src)], "download_url": None, "validation_groups": 2,
        "subset_sizes": [2, 4], "cll_negatives": 2, "cll_repeats": 1, "vocab_size": 60}}))
    data = prepare_dataset(load_profile(path))
    counts = data.manifest["counts"]
    assert counts["corpus"] == 8 and counts["train_pairs"] + counts["validation_pairs"] == 6 and counts["test_pairs"] == 2


@pytest.mark.parametrize("file, change, match", [
    ("corpus", ['{"_id": "d0", "text": "a"}', "{not json"], r"corpus\.jsonl: record line 2: a JSON object"),
    ("corpus", ['{"text": "no id"}'], r"corpus\.jsonl: record line 1, field '_id': a non-empty id"),
    ("corpus", ['{"_id": "d0", "title": "", "text": "  "}'], r"record line 1 \(id 'd0'\), field 'text': a non-empty passage"),
    ("corpus", ['{"_id": "d0", "text": "a"}', '{"_id": "d0", "text": "b"}'], r"record line 2, field '_id': a unique id"),
    ("queries", ['{"_id": "q0", "text": 5}'], r"queries\.jsonl: record line 1 \(id 'q0'\), field 'text': a string"),
    ("train", ["query-id\tcorpus-id\tscore", "q0\td99\t1"], r"train\.tsv: record query 'q0', field 'corpus-id'.*\['d99'\]"),
    ("train", ["query-id\tcorpus-id\tscore", "q99\td0\t1"], r"train\.tsv: record query 'q99', field 'query-id'"),
    ("train", ["query-id\tcorpus-id\tscore", "q0\td0\tyes"], r"train\.tsv: record line 2, field 'relevance': a number"),
])
def test_broken_beir_files_are_located(tmp_path, file, change, match):
    src = write_beir(tmp_path / "toy", **{file: change})
    with pytest.raises(DataFormatError, match=match):
        load_beir(src)


def test_beir_file_keys_are_checked(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"dataset": "toy", "data": {"source": "beir", "files": {"train_queries": "x"}}}))
    with pytest.raises(ConfigError, match="unknown key\\(s\\) \\['train_queries'\\] for source beir"):
        load_profile(path)
