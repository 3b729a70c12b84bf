"""The scaling laws, one module per concept: :mod:`.forms` (the laws and their log forms),
:mod:`.starts`, :mod:`.records`, :mod:`.fitting`, :mod:`.uncertainty`, :mod:`.paper`, :mod:`.study`.
Every name below is importable from ``drscaling.laws`` itself.

The paper's three scaling laws, how they are fitted, and how much to trust a fit.

N = non-embedding parameters, D = annotated (query, positive) pairs, L = test contrastive
log-likelihood (CLL, "contrastive entropy" in the final version of the paper):

- model size  ``L(N)    = (A/N)**alpha + delta``
- data size   ``L(D)    = (B/D)**beta + delta``
- joint       ``L(N, D) = ((A/N)**(alpha/beta) + B/D)**beta + delta``

and, reported beside the paper's data-size and joint laws (not instead of them), their transfer
forms after Hernandez et al. 2021 ("Scaling Laws for Transfer"), in which the pretraining every
model starts from is worth an effective ``D_T`` annotated pairs:

- data size, transfer  ``L(D) = (B/(D + D_T))**beta + delta``
- joint, transfer      ``L(N, D) = ((A/N)**(alpha/beta) + B/(D + D_T))**beta + delta``

Without ``D_T``, a sweep whose curve steepens with D (the pretraining's head start fading) puts
the paper's delta on 0. ``D_T`` is fitted as ``log_D_T`` within ``1e-4 x min D .. 1e3 x max D``
(``TRANSFER_BOUNDS``): on the lower bound no transfer is visible (the law is the paper's), on
the upper one the points show no bend from which to place it.

Fitting, in the style of Epoch AI's replication of Chinchilla's third approach:

- **Log space, log parameters.** The residual of a point is ``log(prediction) - log(observed)``.
  A, B and D_T are fitted as ``log_A``, ``log_B``, ``log_D_T`` (reported as A, B, D_T), and
  the log of a prediction is computed by a log-sum-exp form (:func:`log_model_size_law`,
  :func:`log_data_size_law`, :func:`log_joint_law`, :func:`log_data_size_transfer_law`,
  :func:`log_joint_transfer_law`), finite
  for any finite parameters, also where ``(A/N)**alpha`` overflows. ``delta`` is fitted as
  itself so that ``delta = 0`` (no floor) is reachable: ``log(0) = -inf`` and
  ``logaddexp(x, -inf) = x``.
- **Robust loss.** The objective is the sum of Huber losses of the residuals with a Huber
  delta of 1e-3 in log space (``huber_delta``; ``loss="linear"`` gives plain least squares).
  It is minimised by ``lmfit.minimize(method="least_squares")``, i.e. scipy's
  trust-region-reflective solver with ``loss="huber", f_scale=huber_delta``, which minimises
  exactly that objective (``0.5 r**2`` inside the delta, ``delta*(|r| - delta/2)`` outside).
  Chosen over an explicit Huber objective under L-BFGS (what Chinchilla used) because this
  solver keeps the bounds as they are (lmfit's scalar minimisers map bounded parameters
  through a sine transform, which hides how close a parameter sits to its bound), uses the
  analytic Jacobian given here, and stops on documented tolerance conditions that lmfit
  reports as ``success`` and ``message``. Far from the optimum every residual is in the Huber
  loss's linear part, where that solver crawls, and each of its steps costs about a
  millisecond of Python; so all starts are first taken together towards the optimum by a
  vectorised Levenberg-Marquardt solver of the same objective and bounds (:func:`fit_many`),
  and lmfit finishes each from there (a few evaluations) and gives the verdict.
- **Bounds.** float64 throughout; ``0 < alpha, beta <= 10``; ``0 <= delta < min(observed L)``;
  ``|log_A|, |log_B| <= 700`` (so A and B stay finite); ``1e-4 min D <= D_T <= 1e3 max D``.
  A parameter ending on or near a bound is named in ``bounds_hit`` and explained in
  ``warnings`` and ``status``.
- **Several starts.** A grid of starting points (exponents x floor fractions, and for the
  joint law how the reducible loss is shared between the N and D terms; for the data-size
  transfer form D_T from 1/100 of the smallest D to 10 times the largest, x fewer floors; for the
  joint transfer form the joint grid at an even share, x D_T at the smallest and largest D); ``log_A``/``log_B``
  of each start are set so the start passes through the middle of the data. Every start is
  recorded with its final objective and success flag (``starts``); the lowest objective wins
  (``start``).

Uncertainty: :func:`bootstrap` resamples the points (runs) with replacement and refits each
resample, giving percentile intervals and the number of resamples that failed;
:func:`with_intervals` puts them into the result. A thousand refits one by
one through scipy took minutes per law, so all resamples are refitted at once by
:func:`fit_many`, warm-started from the full fit's optimum, with every grid start tried for a
few steps to catch a resample whose optimum lies elsewhere (:func:`refit_warm`);
``refit="grid"`` refits each resample by a fresh fit from the whole grid instead, the slow
reference that the tests hold the fast way to. :func:`holdout_check` fits without some points
and reports the relative error of the predictions for them (extrapolation to the largest N or
D, or the paper's held-out (N, D) points of its joint-law figure).

:func:`paper_reported` reads the values the paper reported (``configs/paper_reported.yaml``).
"""

from __future__ import annotations

from .forms import (  # noqa: F401
    BATCH_MAX_STEPS,
    BOUND_TOLERANCE,
    DELTA_MARGIN,
    EXPONENT_BOUNDS,
    HUBER_DELTA,
    LOG_SCALE_BOUNDS,
    PROBE_STEPS,
    R2_WARN,
    TOLERANCE,
    TRANSFER_BOUNDS,
    LAWS,
    Law,
    data_size_law,
    data_size_transfer_law,
    huber_objective,
    joint_law,
    joint_transfer_law,
    log_data_size_law,
    log_data_size_transfer_law,
    log_joint_law,
    log_joint_transfer_law,
    log_model_size_law,
    model_size_law,
)
from .starts import (  # noqa: F401
    parameter_bounds,
    default_starts,
    resample_bounds,
    to_internal,
)
from .records import (  # noqa: F401
    BootstrapIntervals,
    HoldoutCheck,
    LawFit,
)
from .fitting import (  # noqa: F401
    FIT_FUNCTIONS,
    fit_many,
    _start_vector,
    fit_data_size_law,
    fit_data_size_transfer_law,
    fit_joint_law,
    fit_joint_transfer_law,
    fit_law,
    fit_model_size_law,
)
from .uncertainty import (  # noqa: F401
    bootstrap,
    holdout_check,
    holdout_largest,
    with_intervals,
)
from .paper import (  # noqa: F401
    PAPER_DATASETS,
    PAPER_LAWS,
    PAPER_VERSIONS,
    _PAPER_PARAMS,
    compare_with_paper,
    fit_authors_points,
    paper_reported,
    paper_value,
)
from .study import (  # noqa: F401
    N_DEFINITIONS,
    STUDY_INPUTS,
    STUDY_SWEEPS,
    StudyFit,
    fit_for_study,
    fit_study_laws,
    in_sweep,
    model_size_by_n_definition,
    n_definition_table,
    n_definitions,
    parameter_table,
    run_draws,
    side_by_side,
    sweep_points,
)
