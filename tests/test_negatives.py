import numpy as np
import pytest

from drscaling.datasets.negatives import draw_negatives, negative_pool


def test_pool_excludes_positives():
    ids = [f"p{i}" for i in range(10)]
    pool = negative_pool(ids, {"p2", "p5", "p9"})
    assert pool.tolist() == [0, 1, 3, 4, 6, 7, 8]


def test_draws_are_distinct_from_the_pool_and_seeded():
    pool = np.arange(0, 400, 2)  # 200 even corpus rows
    d = draw_negatives(pool, n_pairs=30, k=150, repeats=4, seed=7, chunk=16)
    assert d.shape == (30, 4, 150) and d.dtype == np.int32
    assert np.isin(d, pool).all()
    rows = d.reshape(-1, 150)
    assert all(len(set(r.tolist())) == 150 for r in rows)  # without replacement
    assert np.array_equal(d, draw_negatives(pool, 30, 150, 4, seed=7, chunk=16))
    assert not np.array_equal(d, draw_negatives(pool, 30, 150, 4, seed=8, chunk=16))
    assert not np.array_equal(d[:, 0], d[:, 1])  # repeats differ


def test_draws_are_uniform():
    """Every pool passage is drawn equally often (k/n per row) within sampling noise."""
    pool = np.arange(50)
    rows, k = 4000, 20
    counts = np.bincount(draw_negatives(pool, rows, k, 1, seed=0).ravel(), minlength=50)
    expected = rows * k / 50
    sd = np.sqrt(rows * (k / 50) * (1 - k / 50))
    assert np.abs(counts - expected).max() < 5 * sd


def test_pool_too_small():
    with pytest.raises(ValueError, match="cannot draw 11 distinct negatives from a pool of 10"):
        draw_negatives(np.arange(10), 1, 11, 1, seed=0)
