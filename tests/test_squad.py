import gzip

import pytest

from conftest import squad_doc, write_json
from drscaling.datasets import DataFormatError, load_squad
from drscaling.datasets.squad import passage_id

ARTICLES = [
    ("Alpha", [("Alpha is first.", [("q1", "What is first?"), ("q2", "Which one?")]),
               ("Alpha again.", [("q3", "Again what?")])]),
    # The same paragraph text twice in one article: one passage with both questions.
    ("Beta", [("Beta text.", [("q4", "What is beta?")]), ("Beta text.", [("q5", "Beta again?")])]),
]


@pytest.mark.parametrize("gz", [False, True])
def test_counts_dedup_and_ids(tmp_path, gz):
    path = write_json(tmp_path / ("f.json.gz" if gz else "f.json"), squad_doc(ARTICLES), gz=gz)
    ds = load_squad(path)
    (split,) = ds.splits.values()
    assert sorted(split.queries) == ["q1", "q2", "q3", "q4", "q5"]
    assert len(ds.corpus) == 3  # four paragraphs, three distinct texts
    assert split.qrels["q1"] == split.qrels["q2"] == [passage_id("Alpha is first.")]
    assert split.qrels["q4"] == split.qrels["q5"] == [passage_id("Beta text.")]
    assert ds.corpus[passage_id("Alpha again.")] == "Alpha again."
    assert split.queries["q3"] == "Again what?"
    # passages are grouped by article, and ids depend on the text alone
    assert ds.group_of(passage_id("Alpha again.")) == ds.group_of(passage_id("Alpha is first."))
    assert ds.group_of(passage_id("Beta text.")) != ds.group_of(passage_id("Alpha again."))
    assert passage_id("Beta text.") == passage_id("Beta text.") != passage_id("Beta text")


def test_limit_articles_and_integer_ids(tmp_path):
    doc = squad_doc(ARTICLES)
    doc["data"][0]["paragraphs"][0]["qas"][0]["id"] = 17
    ds = load_squad(write_json(tmp_path / "f.json", doc), limit_articles=1)
    (split,) = ds.splits.values()
    assert sorted(split.queries) == ["17", "q2", "q3"]
    assert len(ds.corpus) == 2


def _mutate(doc, what):
    qa = doc["data"][0]["paragraphs"][0]["qas"][0]
    para = doc["data"][0]["paragraphs"][0]
    if what == "missing question":
        del qa["question"]
    elif what == "missing id":
        del qa["id"]
    elif what == "missing context":
        del para["context"]
    elif what == "missing qas":
        del para["qas"]
    elif what == "missing data":
        del doc["data"]
    elif what == "empty question":
        qa["question"] = "   "
    elif what == "empty context":
        para["context"] = ""
    elif what == "question not text":
        qa["question"] = ["a", "list"]
    elif what == "duplicate id":
        doc["data"][1]["paragraphs"][0]["qas"][0]["id"] = qa["id"]
    return doc


@pytest.mark.parametrize("what, record, field", [
    ("missing question", "data[0] (title 'Alpha') paragraphs[0] qas[0] (id 'q1')", "'question'"),
    ("missing id", "data[0] (title 'Alpha') paragraphs[0] qas[0]", "'id'"),
    ("missing context", "data[0] (title 'Alpha') paragraphs[0]", "'context'"),
    ("missing qas", "data[0] (title 'Alpha') paragraphs[0]", "'qas'"),
    ("missing data", "top level", "'data'"),
    ("empty question", "qas[0] (id 'q1')", "'question'"),
    ("empty context", "paragraphs[0]", "'context'"),
    ("question not text", "qas[0] (id 'q1')", "'question'"),
    ("duplicate id", "data[1] (title 'Beta') paragraphs[0] qas[0] (id 'q1')", "'id'"),
])
def test_bad_records_are_located(tmp_path, what, record, field):
    path = write_json(tmp_path / "bad.json", _mutate(squad_doc(ARTICLES), what))
    with pytest.raises(DataFormatError) as err:
        load_squad(path)
    msg = str(err.value)
    assert str(path) in msg and record in msg and f"field {field}" in msg, msg


def test_duplicate_id_names_first_use(tmp_path):
    path = write_json(tmp_path / "bad.json", _mutate(squad_doc(ARTICLES), "duplicate id"))
    with pytest.raises(DataFormatError, match=r"already used at data\[0\] \(title 'Alpha'\) paragraphs\[0\] qas\[0\]"):
        load_squad(path)


def test_malformed_and_truncated_files(tmp_path):
    good = write_json(tmp_path / "good.json", squad_doc(ARTICLES)).read_bytes()
    plain = tmp_path / "truncated.json"
    plain.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataFormatError, match=r"truncated\.json.*valid JSON.*line 1"):
        load_squad(plain)
    gz = tmp_path / "truncated.json.gz"
    gz.write_bytes(gzip.compress(good)[:-20])
    with pytest.raises(DataFormatError, match=r"truncated\.json\.gz.*truncated or corrupt"):
        load_squad(gz)
    broken = tmp_path / "broken.json"
    broken.write_text('{"data": [ {"title": "x", }')
    with pytest.raises(DataFormatError, match=r"broken\.json.*valid JSON"):
        load_squad(broken)
    with pytest.raises(FileNotFoundError, match="nope.json"):
        load_squad(tmp_path / "nope.json")


def test_real_squad_counts(shared_squad):
    """The shared files' published counts (../shared/datasets/README.md)."""
    dev = load_squad(shared_squad / "dev-v1.1.json.gz")
    assert len(dev.splits["all"].queries) == 10_570 and len(dev.corpus) == 2_067
    train = load_squad(shared_squad / "train-v1.1.json.gz")
    assert len(train.splits["all"].queries) == 87_599 and len(train.corpus) == 18_891
    assert len({g for g in train.groups.values()}) == 442
    assert not set(train.corpus) & set(dev.corpus)
