import pandas as pd
import pytest

from drscaling.datasets import RetrievalDataset, Split
from drscaling.datasets.splits import hold_out_validation, nested_subset_order, pairs_frame


def grouped_dataset(n_groups=10, per_group=3):
    corpus, groups, split = {}, {}, Split()
    for g in range(n_groups):
        for p in range(per_group):
            pid = f"p{g}-{p}"
            corpus[pid], groups[pid] = f"text {g} {p}", f"article {g}"
            for q in range(2):
                qid = f"q{g}-{p}-{q}"
                split.queries[qid], split.qrels[qid] = f"question {qid}", [pid]
    test = Split({"t1": "test q"}, {"t1": ["p0-0"]})
    return RetrievalDataset("toy", corpus, {"train": split, "test": test}, groups)


def test_validation_holds_whole_groups_and_shares_no_passage():
    ds = grouped_dataset()
    new, summary = hold_out_validation(ds, n_groups=3, seed=1)
    train, val = new.splits["train"], new.splits["validation"]
    assert len(summary["validation_groups"]) == 3
    assert len(val.queries) == 3 * 3 * 2 and len(train.queries) == 7 * 3 * 2
    assert not train.positives() & val.positives()
    assert {new.group_of(p) for p in val.positives()} == set(summary["validation_groups"])
    assert not {new.group_of(p) for p in train.positives()} & set(summary["validation_groups"])
    assert new.splits["test"] is ds.splits["test"]
    assert list(new.splits) == ["train", "validation", "test"]


def test_validation_is_seeded():
    ds = grouped_dataset()
    a = hold_out_validation(ds, 3, seed=1)[1]["validation_groups"]
    assert a == hold_out_validation(ds, 3, seed=1)[1]["validation_groups"]
    assert any(hold_out_validation(ds, 3, seed=s)[1]["validation_groups"] != a for s in range(2, 6))


def test_bridging_query_is_dropped():
    """Without groups each passage is its own group; a query whose positives straddle the
    cut would share a passage with training, so it is dropped and counted."""
    corpus = {f"p{i}": f"t{i}" for i in range(6)}
    split = Split({f"q{i}": f"q{i}" for i in range(6)}, {f"q{i}": [f"p{i}"] for i in range(6)})
    split.qrels["q0"] = ["p0", "p1"]
    ds = RetrievalDataset("toy", corpus, {"train": split})
    for seed in range(20):
        new, summary = hold_out_validation(ds, 1, seed)
        if summary["validation_groups"] in (["p0"], ["p1"]):
            assert summary["dropped_bridging_queries"] == ["q0"]
            assert "q0" not in new.splits["train"].queries and "q0" not in new.splits["validation"].queries
            assert not new.splits["train"].positives() & new.splits["validation"].positives()
            return
    pytest.fail("no seed chose p0 or p1")


def test_too_many_validation_groups():
    with pytest.raises(ValueError, match="between 1 and 9.*10 groups"):
        hold_out_validation(grouped_dataset(), n_groups=10, seed=0)


def pairs(n):
    return pd.DataFrame({"qid": [f"q{i}" for i in range(n)], "pid": [f"p{i % 7}" for i in range(n)]})


def test_nested_subsets():
    order = nested_subset_order(pairs(100), [10, 30, 100], seed=3)
    sets = [set(order[order["rank"] < d]["qid"]) for d in (10, 30, 100)]
    assert [len(s) for s in sets] == [10, 30, 100]
    assert sets[0] < sets[1] < sets[2]
    assert sorted(order["qid"]) == sorted(pairs(100)["qid"])  # a permutation: nothing lost or doubled


def test_subsets_are_deterministic_and_seeded():
    a = nested_subset_order(pairs(50), [10], seed=3)
    pd.testing.assert_frame_equal(a, nested_subset_order(pairs(50), [10], seed=3))
    assert list(a["qid"]) != list(nested_subset_order(pairs(50), [10], seed=4)["qid"])


def test_subset_larger_than_training_set():
    with pytest.raises(ValueError, match="asks for 101 training pairs, but the training split has only 100"):
        nested_subset_order(pairs(100), [10, 101], seed=0)


def test_pairs_frame_order():
    split = Split({"a": "", "b": ""}, {"a": ["p1", "p2"], "b": ["p3"]})
    assert pairs_frame(split).values.tolist() == [["a", "p1"], ["a", "p2"], ["b", "p3"]]
