import json
import logging

import numpy as np
import pytest
import yaml

from conftest import squad_doc, synthetic_articles, write_json
from drscaling.config import load_profile
from drscaling.datasets import DataFormatError, prepare_dataset


def make_profile(tmp_path, **data):
    src = tmp_path / "src"
    if not src.exists():
        write_json(src / "train.json", squad_doc(synthetic_articles(6, 5, 3, "tr")))
        write_json(src / "dev.json.gz", squad_doc(synthetic_articles(2, 4, 2, "dv")), gz=True)
    settings = {
        "search_dirs": [str(src)], "download_url": None, "files": {"train": "train.json", "test": "dev.json"},
        "validation_groups": 2, "subset_sizes": [10, 20, 40], "cll_negatives": 8, "cll_repeats": 3,
        "vocab_size": 120, **data,
    }
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump({"dataset": "toy", "data": settings}))
    return load_profile(path)


def test_prepare_writes_consistent_splits_and_draws(tmp_path):
    data = prepare_dataset(make_profile(tmp_path))
    m = data.manifest
    # 6 train articles x 5 paragraphs x 3 questions; 2 held out as validation; 2 x 4 x 2 test
    assert (m["counts"]["train_pairs"], m["counts"]["validation_pairs"], m["counts"]["test_pairs"]) == (60, 30, 16)
    assert m["counts"]["corpus"] == 6 * 5 + 2 * 4
    corpus_row = {p: i for i, p in enumerate(data.corpus["pid"])}
    pool = set(data.negative_pool.tolist())
    evaluated = set()
    for split in ("test", "validation"):
        evaluated |= {corpus_row[p] for p in data.qrels(split)["pid"]}
    assert not pool & evaluated
    assert pool | evaluated == set(range(len(data.corpus)))  # everything else is in the pool
    for split, n in (("test", 16), ("validation", 30)):
        draws = data.cll_negatives(split)
        assert draws.shape == (n, 3, 8) and set(np.unique(draws)) <= pool
    # validation holds whole articles: no passage shared with training
    groups = data.corpus.set_index("pid")["group"]
    train_groups = set(groups[data.qrels("train")["pid"]])
    assert not train_groups & set(groups[data.qrels("validation")["pid"]])
    # nested subsets of the training pairs
    s10, s40 = data.subset(10), data.subset(40)
    assert set(s10["qid"]) < set(s40["qid"]) <= set(data.qrels("train")["qid"])
    with pytest.raises(ValueError, match="asked for 61 training pairs, but toy has 60"):
        data.subset(61)
    tok = data.tokenizer()
    assert len(tok) <= 120 and tok("alpha beta")["input_ids"][0] == tok.cls_token_id
    assert m["sources"]["test"]["path"].endswith("dev.json.gz")


def test_rerun_is_recognised_as_done(tmp_path, caplog, capsys):
    from drscaling.logs import show_messages

    profile = make_profile(tmp_path)
    first = prepare_dataset(profile)
    stamp = (first.dir / "manifest.json").stat().st_mtime_ns
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="drscaling"):
        prepare_dataset(profile)
    assert "up to date" in caplog.text  # a log message, not a print
    show_messages()  # what notebooks and the command line do: the same message on stdout
    capsys.readouterr()
    prepare_dataset(profile)
    assert "up to date" in capsys.readouterr().out
    assert (first.dir / "manifest.json").stat().st_mtime_ns == stamp
    # another setting -> prepared again, with the new setting recorded
    again = prepare_dataset(make_profile(tmp_path, cll_negatives=5))
    assert again.manifest["data"]["cll_negatives"] == 5 and again.cll_negatives("test").shape[2] == 5


def test_same_seed_same_preparation(tmp_path):
    a = prepare_dataset(make_profile(tmp_path))
    draws, order = np.array(a.cll_negatives("test")), a.train_order.copy()
    b = prepare_dataset(make_profile(tmp_path), force=True)
    assert np.array_equal(draws, b.cll_negatives("test")) and order.equals(b.train_order)


def test_bad_input_keeps_the_previous_preparation(tmp_path):
    profile = make_profile(tmp_path)
    good = prepare_dataset(profile)
    before = json.loads((good.dir / "manifest.json").read_text())
    doc = squad_doc(synthetic_articles(6, 5, 3, "tr"))
    doc["data"][3]["paragraphs"][1]["qas"][0]["question"] = ""
    write_json(tmp_path / "src" / "train.json", doc)
    with pytest.raises(DataFormatError, match=r"train\.json: record data\[3\].*paragraphs\[1\] qas\[0\].*'question'"):
        prepare_dataset(profile)
    assert json.loads((good.dir / "manifest.json").read_text()) == before
    assert all((good.dir / f).exists() for f in before["files"])
    assert [p.name for p in good.dir.parent.iterdir()] == ["toy"]  # no temporary folder left


def test_too_large_subset_is_reported_before_writing(tmp_path):
    with pytest.raises(ValueError, match="asks for 1,000 training pairs, but the training split has only 60"):
        prepare_dataset(make_profile(tmp_path, subset_sizes=[10, 1000]))
    assert not (tmp_path / "data" / "processed" / "toy").exists()


def test_real_squad_smoke_slice(shared_squad):
    """The smoke profile on the real files: counts match a direct count of the same slice."""
    import gzip

    profile = load_profile("smoke")
    data = prepare_dataset(profile)
    train = json.load(gzip.open(shared_squad / "train-v1.1.json.gz"))["data"][: profile.data.limit_train_articles]
    dev = json.load(gzip.open(shared_squad / "dev-v1.1.json.gz"))["data"][: profile.data.limit_test_articles]
    n_train = sum(len(p["qas"]) for a in train for p in a["paragraphs"])
    n_dev = sum(len(p["qas"]) for a in dev for p in a["paragraphs"])
    c = data.manifest["counts"]
    assert c["train_pairs"] + c["validation_pairs"] == n_train and c["test_pairs"] == n_dev
    assert c["corpus"] == len({p["context"] for a in train + dev for p in a["paragraphs"]})


def test_subset_table_and_evaluation_draws_check_what_they_show(tmp_path, monkeypatch):
    from drscaling.datasets import statistics as stats

    data = prepare_dataset(make_profile(tmp_path))
    table = stats.subset_table(data)
    assert table.index.tolist() == [10, 20, 40] and table.loc[40, "queries"] == 40
    assert table.loc[20, "share of training pairs"] == pytest.approx(20 / 60)
    lines = stats.evaluation_draws(data)
    assert lines[0] == "test: 16 pairs x 3 repeats x 8 negatives" and lines[1].startswith("validation: 30 pairs")
    # a broken preparation is refused, not shown
    original = data.subset
    monkeypatch.setattr(data, "subset", lambda d: original(d).iloc[::-1].head(d // 2) if d == 40 else original(d))
    with pytest.raises(ValueError, match="D = 40 does not hold the smaller subsets"):
        stats.subset_table(data)
    positive = data.corpus["pid"].tolist().index(data.qrels("test")["pid"].iloc[0])
    monkeypatch.setattr(type(data), "negative_pool", property(lambda self: np.array([positive])), raising=False)
    with pytest.raises(ValueError, match="a test positive is in the negative pool"):
        stats.evaluation_draws(data)


def test_lengths_of_spaced_text_are_counted_in_words(tmp_path):
    """English text: notebook 01's lengths count whitespace words (Chinese: characters, in
    test_chinese_data.py)."""
    from drscaling.datasets import statistics as stats

    data = prepare_dataset(make_profile(tmp_path))
    assert stats.length_unit(data) == "words"
    lengths = stats.length_frame(data, data.tokenizer())
    assert list(lengths.columns) == ["kind", "split", "chars", "words", "tokens"]
    passages = lengths[lengths["kind"] == "passage"]
    assert (passages["words"] == 5 + 30).all()  # "tr article 0 paragraph 0:" and 30 words
    summary = stats.length_summary(lengths)
    assert summary.columns.get_level_values(0).unique().tolist() == ["words", "tokens"]
