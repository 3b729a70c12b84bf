import math

import numpy as np
import pytest

from drscaling.cll import cll_from_draws, contrastive_log_likelihood


def test_hand_worked_example():
    # q = (1, 0); positive (2, 0) -> score 2; negatives (0, 1) -> 0 and (1, 0) -> 1
    q = np.array([[1.0, 0.0]])
    p = np.array([[2.0, 0.0]])
    n = np.array([[[0.0, 1.0], [1.0, 0.0]]])
    expected = -math.log(math.exp(2) / (math.exp(2) + math.exp(0) + math.exp(1)))  # = 0.4076...
    assert contrastive_log_likelihood(q, p, n)[0] == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.40760596, abs=1e-8)


def test_chance_level():
    q, p, n = np.zeros((3, 4)), np.zeros((3, 4)), np.zeros((3, 256, 4))
    assert np.allclose(contrastive_log_likelihood(q, p, n), math.log(257))


def test_against_a_brute_force_loop():
    rng = np.random.default_rng(0)
    q, p, n = rng.normal(size=(5, 8)), rng.normal(size=(5, 8)), rng.normal(size=(5, 7, 8))
    got = contrastive_log_likelihood(q, p, n)
    for i in range(5):
        scores = [float(q[i] @ p[i])] + [float(q[i] @ n[i, k]) for k in range(7)]
        expected = -scores[0] + math.log(sum(math.exp(s) for s in scores))
        assert got[i] == pytest.approx(expected, rel=1e-10)


def test_large_scores_stay_finite():
    q = np.array([[100.0]])
    got = contrastive_log_likelihood(q, np.array([[10.0]]), np.array([[[12.0], [0.0]]]))
    assert got[0] == pytest.approx(200.0 + math.log1p(math.exp(-200.0) + math.exp(-1200.0)), rel=1e-9)


def test_draws_average_over_repeats():
    rng = np.random.default_rng(1)
    passages = rng.normal(size=(20, 6))
    q, p = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    draws = np.stack([np.stack([rng.choice(20, 5, replace=False) for _ in range(3)]) for _ in range(4)])
    got = cll_from_draws(q, p, passages, draws, chunk=3)
    for i in range(4):
        per_repeat = [contrastive_log_likelihood(q[i:i + 1], p[i:i + 1], passages[draws[i, r]][None])[0] for r in range(3)]
        assert got[i] == pytest.approx(np.mean(per_repeat), rel=1e-10)


def test_bad_shapes():
    with pytest.raises(ValueError, match="expected shapes"):
        contrastive_log_likelihood(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3)))


def test_float32_embeddings_match_float64():
    """Model embeddings are float32: scores in float32, log-sum-exp in float64, close to the
    all-float64 value."""
    rng = np.random.default_rng(2)
    passages = rng.normal(size=(50, 16))
    q, p = rng.normal(size=(6, 16)), rng.normal(size=(6, 16))
    draws = np.stack([np.stack([rng.choice(50, 8, replace=False) for _ in range(2)]) for _ in range(6)])
    exact = cll_from_draws(q, p, passages, draws)
    single = cll_from_draws(q.astype(np.float32), p.astype(np.float32), passages.astype(np.float32), draws)
    assert single.dtype == np.float64 and np.allclose(single, exact, rtol=1e-5)
