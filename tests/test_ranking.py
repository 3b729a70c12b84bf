import math

import ir_measures
import numpy as np
import pandas as pd
import pytest

from drscaling.ranking import bm25_run, evaluate_ranking, ranking_metrics, search, to_run


# ---------------------------------------------------------------- search

def test_search_matches_brute_force_numpy():
    rng = np.random.default_rng(0)
    q, p = rng.normal(size=(7, 16)), rng.normal(size=(50, 16))  # float64 in: converted
    scores, idx = search(q, p, k=10)
    dots = (q @ p.T).astype(np.float32)
    expected = np.argsort(-dots, axis=1)[:, :10]  # random floats: no ties
    assert scores.shape == idx.shape == (7, 10)
    np.testing.assert_array_equal(idx, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(dots, expected, axis=1), rtol=1e-5, atol=1e-5)


def test_search_clips_k_and_takes_torch_tensors():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    q, p = rng.normal(size=(3, 8)).astype(np.float32), rng.normal(size=(5, 8)).astype(np.float32)
    scores, idx = search(torch.from_numpy(q), torch.from_numpy(p).T.contiguous().T, k=100)  # non-contiguous view
    assert idx.shape == (3, 5)  # k clipped to the 5 passages, no -1 padding
    np.testing.assert_array_equal(idx, np.argsort(-(q @ p.T), axis=1))
    assert np.all(np.diff(scores, axis=1) <= 0)


def test_to_run_maps_rows_to_ids_and_skips_padding():
    run = to_run(["a", 7], ["p0", "p1", "p2"], np.array([[0.5, 0.25], [0.75, -1.0]]), np.array([[2, 0], [1, -1]]))
    assert run == {"a": {"p2": 0.5, "p0": 0.25}, "7": {"p1": 0.75}}
    assert all(type(s) is float for docs in run.values() for s in docs.values())


# ---------------------------------------------------------------- metrics, worked by hand

def _noise(n, tag):
    return [f"{tag}-n{i}" for i in range(n)]


def _ranked(pids):
    """A run entry ranking ``pids`` in the given order (distinct, decreasing scores)."""
    return {pid: float(len(pids) - r) for r, pid in enumerate(pids)}


QRELS = pd.DataFrame(
    [("q1", "p1"), ("q2", "p2"), ("q2", "p5"), ("q3", "p9"), ("q4", "p4"), ("q6", "p6")], columns=["qid", "pid"]
).assign(split="test")  # an extra column is allowed

RUN = {
    "q1": _ranked(["x", "p1", "y"]),  # relevant at rank 2
    "q2": _ranked(["p2", *_noise(10, "q2"), "p5"]),  # relevant at ranks 1 and 12 (of 2 relevant)
    "q3": _ranked(["p1", "p2", "p3"]),  # its relevant p9 not retrieved
    # q4: absent from the run
    "q5": _ranked(["p1"]),  # no qrels: must not count
    "q6": _ranked([*_noise(10, "q6"), "p6"]),  # relevant at rank 11: outside @10, inside @100
}

# By hand (binary gains, DCG = sum over relevant ranks r <= 10 of 1 / log2(r + 1)):
#   query  RR@10  nDCG@10                                     R@10  R@100
#   q1     1/2    (1/log2 3) / 1 = 0.6309297535714575         1     1
#   q2     1      1 / (1 + 1/log2 3) = 0.6131471927654584      1/2   2/2
#   q3     0      0                                           0     0
#   q4     0      0 (absent from the run)                     0     0
#   q6     0      0 (rank 11)                                 0     1
# means over the 5 queries with qrels (q5 has none):
EXPECTED = {
    "mrr_at_10": (0.5 + 1) / 5,
    "ndcg_at_10": (0.6309297535714575 + 0.6131471927654584) / 5,
    "recall_at_10": (1 + 0.5) / 5,
    "recall_at_100": (1 + 1 + 1) / 5,
    "n_queries": 5,
}


def test_hand_numbers_are_right():
    # the constants above, from their formulas
    assert 1 / math.log2(3) == pytest.approx(0.6309297535714575)
    assert 1 / (1 + 1 / math.log2(3)) == pytest.approx(0.6131471927654584)


def test_ranking_metrics_hand_worked_example():
    got = ranking_metrics(RUN, QRELS)
    assert got == pytest.approx(EXPECTED, abs=1e-9)
    # qrels as a dict give the same
    as_dict = QRELS.groupby("qid")["pid"].apply(list).to_dict()
    assert ranking_metrics(RUN, as_dict) == pytest.approx(EXPECTED, abs=1e-9)


def test_missing_and_empty_queries_count_zero():
    qrels = {"q1": ["p1"], "q4": ["p4"]}
    absent = ranking_metrics({"q1": _ranked(["p1"])}, qrels)
    empty = ranking_metrics({"q1": _ranked(["p1"]), "q4": {}}, qrels)
    for got in (absent, empty):
        assert got["n_queries"] == 2
        assert got["mrr_at_10"] == got["ndcg_at_10"] == got["recall_at_10"] == got["recall_at_100"] == 0.5
    assert ranking_metrics({}, qrels)["recall_at_100"] == 0.0


def test_ir_measures_itself_counts_missing_queries_as_zero():
    # the behaviour the module docstring records (ir-measures 0.4.3): not dropped, 0
    measures = [ir_measures.parse_measure(m) for m in ("RR@10", "nDCG@10", "R@10", "R@100")]
    agg = ir_measures.calc_aggregate(measures, {"q1": {"p1": 1}, "q4": {"p4": 1}}, {"q1": {"p1": 1.0}})
    assert all(v == 0.5 for v in agg.values())


def test_ranking_metrics_rejects_bad_qrels():
    with pytest.raises(ValueError):
        ranking_metrics(RUN, pd.DataFrame({"qid": ["q1"]}))
    with pytest.raises(ValueError):
        ranking_metrics(RUN, {"q1": []})


# ---------------------------------------------------------------- end to end

def test_evaluate_ranking_near_duplicate_queries_are_perfect():
    rng = np.random.default_rng(2)
    p = rng.normal(size=(300, 64)).astype(np.float32)
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    q = p[:60] + 0.01 * rng.normal(size=(60, 64)).astype(np.float32)  # query i = passage i + noise
    pids, qids = [f"p{i}" for i in range(300)], [f"q{i}" for i in range(60)]
    qrels = pd.DataFrame({"qid": qids, "pid": pids[:60]})
    got = evaluate_ranking(q, qids, p, pids, qrels, k=100)
    assert got == pytest.approx(
        {"mrr_at_10": 1.0, "ndcg_at_10": 1.0, "recall_at_10": 1.0, "recall_at_100": 1.0, "n_queries": 60}
    )
    # the other way round every query ranks a wrong passage first
    shifted = pd.DataFrame({"qid": qids, "pid": pids[1:61]})
    assert evaluate_ranking(q, qids, p, pids, shifted)["mrr_at_10"] < 1.0


# ---------------------------------------------------------------- BM25

PASSAGES = [
    "The cat sat on the mat in the afternoon sun.",
    "Quantum chromodynamics describes how gluons bind quarks.",
    "The stock market fell sharply on Monday afternoon.",
    "A recipe for bread needs flour, water, salt and yeast.",
]
PIDS = ["a", "b", "c", "d"]


def test_bm25_ranks_the_passage_with_the_rare_words_first():
    queries = ["which particles do gluons bind?", "the flour and the yeast", "the of and"]
    run = bm25_run(PASSAGES, PIDS, queries, ["g", "y", "s"], k=100)
    assert set(run) == {"g", "y", "s"}
    assert max(run["g"], key=run["g"].get) == "b"
    assert max(run["y"], key=run["y"].get) == "d"
    assert run["s"] == {}  # only stop words: nothing matches, nothing listed
    # k beyond the corpus: no error, and only passages sharing a term are listed
    assert set(run["g"]) == {"b"}
    assert all(s > 0 for docs in run.values() for s in docs.values())
    # with stop words kept, "the" matches the passages that contain it
    kept = bm25_run(PASSAGES, PIDS, ["the"], ["t"], k=100, stopwords=None)
    assert set(kept["t"]) == {"a", "c"}


def test_bm25_char_level_for_chinese():
    passages = ["我喜欢吃苹果和香蕉", "今天北京天气很好", "上海是一座大城市"]
    queries, qids = ["北京的天气怎么样"], ["q"]
    run = bm25_run(passages, ["p0", "p1", "p2"], queries, qids, k=10, stopwords=None, char_level=True)
    assert max(run["q"], key=run["q"].get) == "p1"
    # bm25s's regex alone keeps the whole Chinese string as one token: nothing matches
    assert bm25_run(passages, ["p0", "p1", "p2"], queries, qids, k=10, stopwords=None)["q"] == {}
    # CJK characters glued to Latin letters are split off too
    mixed = bm25_run(["iPhone手机很好用", "dog狗"], ["m0", "m1"], ["手机"], ["q"], stopwords=None,
                     char_level=True)
    assert set(mixed["q"]) == {"m0"}


def test_bm25_settings_by_language():
    from drscaling.ranking import bm25_settings

    assert bm25_settings("en") == {"stopwords": "en", "char_level": False}
    assert bm25_settings("zh") == {"stopwords": None, "char_level": True}  # no spaces between Chinese words
    with pytest.raises(ValueError, match="bm25 language: expected one of"):
        bm25_settings("fr")
