"""Figures that carry several seeds per point show their spread."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from drscaling import laws  # noqa: E402
from drscaling.plots import plot_single_law, seed_spread  # noqa: E402


def test_seed_spread_by_hand():
    s = seed_spread([10, 10, 20, 30, 30, 30], [1.0, 3.0, 2.0, 4.0, 5.0, 9.0])
    assert s["x"].tolist() == [10, 20, 30] and s["runs"].tolist() == [2, 1, 3]
    assert s["mean"].tolist() == [2.0, 2.0, 6.0] and s["min"].tolist() == [1.0, 2.0, 4.0]
    assert s["max"].tolist() == [3.0, 2.0, 9.0]


def test_single_law_draws_seed_error_bars():
    n = np.repeat(np.geomspace(1e4, 3e5, 6), 2)  # 6 sizes x 2 seeds
    rng = np.random.default_rng(0)
    loss = (4e4 / n) ** 0.4 + 2.0 + rng.normal(0, 0.01, n.size)
    study = laws.fit_for_study("model_size", n, loss, holdout_mask=n == n.max(), n_resamples=20, seed=0)
    fig = plot_single_law(study, "N", "two seeds")
    ax = fig.axes[0]
    bars = [c for c in ax.containers if c.__class__.__name__ == "ErrorbarContainer"]
    assert len(bars) == 1 and len(bars[0].lines[0].get_xdata()) == 6  # one bar per distinct N
    assert "mean and range over seeds" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_transfer_form_drawn_dashed_beside_the_data_size_law():
    from drscaling.plots import add_law_curve

    d = np.geomspace(2500, 80000, 6)
    loss = (2e5 / (d + 5e3)) ** 0.5 + 1.0  # a transfer law with D_T = 5,000 pairs
    paper = laws.fit_for_study("data_size", d, loss, n_resamples=5, seed=0)
    transfer = laws.fit_for_study("data_size_transfer", d, loss, n_resamples=5, seed=0)
    fig = add_law_curve(plot_single_law(paper, "D", "data size"), transfer, "transfer form")
    ax = fig.axes[0]
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 1
    np.testing.assert_allclose(np.interp(d, dashed[0].get_xdata(), dashed[0].get_ydata()), loss, rtol=2e-3)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("transfer form: (") and "/(D + 5e+03))^0.50 + 1.00" in t for t in labels), labels


def test_log_loss_axes_read_as_plain_numbers():
    """A loss axis spanning less than a decade is labelled 3, 4, 5, not 3x10^0."""
    n = np.geomspace(1e4, 3e5, 6)
    study = laws.fit_for_study("model_size", n, (4e4 / n) ** 0.4 + 2.0, n_resamples=10, seed=0)
    fig = plot_single_law(study, "N", "plain labels")
    fig.canvas.draw()
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.yaxis.get_ticklabels(minor=True) + ax.yaxis.get_ticklabels() if t.get_text()]
    assert labels and not any("10^" in t or "times" in t for t in labels), labels
    assert all(float(t) > 0 for t in labels)


def test_series_differ_without_colour():
    """Each method of the annotation figure has its own marker and its own dash: the figure reads
    in grayscale."""
    import pandas as pd

    from drscaling.plots import plot_annotation_laws, series_style

    styles = [series_style(i) for i in range(8)]
    assert len({s["marker"] for s in styles}) == len({str(s["linestyle"]) for s in styles}) == 8
    d = np.array([100, 200, 400, 800], dtype=float)
    points, studies = [], {}
    for i, (label, beta) in enumerate([("human", 0.4), ("ict", 0.3), ("keywords", 0.2)]):
        loss = (50 / d) ** beta + 2.0 + 0.1 * i
        points.append(pd.DataFrame({"annotation": label, "n_train": d, "cll_test": loss}))
        studies[label] = laws.fit_for_study("data_size", d, loss, n_resamples=5, seed=0)
    fig = plot_annotation_laws(pd.concat(points), studies)
    ax = fig.axes[0]
    markers = [c.get_paths()[0].vertices.round(3).tobytes() for c in ax.collections]
    assert len(markers) == 3 and len(set(markers)) == 3  # three marker shapes
    dashes = {str(line.get_linestyle()) for line in ax.get_lines()}
    assert len(dashes) == 3


def test_budget_optimum_tells_laws_apart_without_colour():
    import pandas as pd

    from drscaling.plots import plot_budget_optimum

    rows = [{"law": law, "cost_model": cost, "budget": z, "n_star": z * k, "d_star": z / k}
            for law, k in (("paper", 2.0), ("this study", 3.0)) for cost in ("without inference", "with inference")
            for z in (1e4, 1e5, 1e6)]
    fig = plot_budget_optimum(pd.DataFrame(rows))
    lines = fig.axes[0].get_lines()
    assert len(lines) == 4
    assert len({line.get_marker() for line in lines}) == 2  # one marker per law
    assert len({line.get_linestyle() for line in lines}) == 2  # one dash per cost model
