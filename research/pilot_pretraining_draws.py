"""Pilot (issue 11): how much of a fine-tuned point is the draw of its pretraining, and does a
longer pretraining make the draw matter less?

With `grid.pretraining.seed: run` the cpu profile's two seeds of a point are two draws of
pretraining and fine-tuning. In the run of 2026-11-30 L1-H16's two seeds differed by 0.31-0.34
test CLL at every D of the joint grid (5k to 40k), ten times more than two fine-tuning seeds
from one pretraining (0.017): the pretraining draw decides the small shapes' points, and the
laws' R² with them.

Runs (GROUPS below): the cpu profile's settings, pretraining seeds 0-3 on ICT pairs of the
training passages (keep 0.1, 3 passes, learning rate 2e-3), each fine-tuned on human pairs with the
same seed (as `seed: run` does):
  current    L1-H16, 18,000 pairs (one per training passage: the profile's), fine-tuned at 40k
  long       L1-H16, 54,000 pairs (three rounds over the passages, another sentence each round)
  last       L1-H16, as current, but the pretraining keeps its last check (training.keep: last),
             not the best check on human validation pairs
  current32  L1-H32 as current, fine-tuned at 20k (where its two study draws differ most)
  current8, current16, current24
             L1-H8, H16, H24 as current, fine-tuned at 20k (the study's joint-grid runs there)
  last32     L1-H32 as last, fine-tuned at 20k
  scratch16, scratch24, scratch32
             L1-H16, H24, H32 trained at 20k as the fine-tuning is, but from random weights
  prelr16, prelr32
             L1-H16, H32 pretrained at 5e-4 instead of 2e-3, fine-tuned at 20k (at 2e-3)
  bert16, bert24, bert32
             as scratch16..32, with the projection drawn as BERT draws its layers (normal 0.02, zero
             bias: training.projection_init bert) instead of torch's uniform +-1/sqrt(H)
  bertpre8, bertpre16, bertpre24, bertpre32
             L1-H8..H32 pretrained from that projection init, fine-tuned at 20k
  prelong16, prelong32
             as prelr16, prelr32 on three times the ICT pairs (54,000)
  xavier8, xavier16, xavier24, xavier32, xavier64
             as bertpre8..32 and bertpre64, the projection drawn by Glorot's normal (zero bias)
  xavierlast8, xavierlast16, xavierlast24, xavierlast32
             as xavier8..32, the pretraining keeping its last check
  xavier8_40k .. xavier128_40k, xavier8_5k, xavier8_10k
             with that projection, the model-size sweep at 40k (L1-H64, H128 at 5e-4, 2 draws) and L1-H8
             at 5k and 10k
  xavierlast64_2.5k .. xavierlast64_80k
             the data-size sweep of the changed profile (xavier, keep last): L1-H64 at 5e-4, draws 0-1
  current64, bertpre64
             L1-H64 pretrained from either init, fine-tuned at 20k at its rate (5e-4), draws 0-1

Runs live in ``outputs/pilots/pretrain_draws/runs/<run_id>/`` and are skipped when done; run
the two groups in two processes to use both cores. The summary prints each draw's pretraining
and fine-tuned test CLL and, per group, the fine-tuned mean, standard deviation and range.

    python research/pilot_pretraining_draws.py --groups current   # and, beside it, --groups long
    python research/pilot_pretraining_draws.py --groups last      # and, beside it, --groups current32 last32
    python research/pilot_pretraining_draws.py --groups scratch16 scratch32   # and, beside it, --groups scratch24
    python research/pilot_pretraining_draws.py --groups prelr16   # and, beside it, --groups prelr32
    python research/pilot_pretraining_draws.py --groups bert16 bertpre16 bert24   # and, beside it, --groups bert32 bertpre32
    python research/pilot_pretraining_draws.py --summary-only
    python research/pilot_pretraining_draws.py --summary-only --law current8 current16 current24 current32 \
        --law bertpre8 bertpre16 bertpre24 bertpre32   # the model-size law at 20k of either init
    python research/pilot_pretraining_draws.py --groups xavier128_40k   # and, beside it:
    python research/pilot_pretraining_draws.py --groups xavier8_5k xavier8_10k xavier8_40k xavier16_40k \
        xavier24_40k xavier32_40k xavier64_40k
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import dataclass

from pilot_pretraining import make_spec  # the pilots' run spec (a script's own folder, research/, is on its import path)

from drscaling import paths
from drscaling.config import load_profile
from drscaling.fileio import read_json
from drscaling.grid import RESULT_FILE, RunSpec, execute_run

ROOT = paths.ROOT / "outputs" / "pilots" / "pretrain_draws" / "runs"
SEEDS = (0, 1, 2, 3)


@dataclass(frozen=True)
class Group:
    hidden: int
    n_train: int  # the fine-tuning's D
    pretraining_pairs: int  # 0: no pretraining (from random weights)
    keep: str = "best"  # the pretraining's kept checkpoint (training.keep)
    pretraining_rate: float | None = None  # the pretraining's learning rate (None: the profile's, 2e-3)
    # the new model's projection (training.projection_init): of the pretraining, or of the run
    # itself when there is none (a fine-tuning loads the pretraining's projection)
    projection_init: str = "torch"
    rate: float | None = None  # the fine-tuning's learning rate (None: the profile's, 2e-3)
    draws: int = len(SEEDS)  # seeds 0 .. draws - 1

    def describe(self) -> str:
        if not self.pretraining_pairs:
            init = f", projection init {self.projection_init}" if self.projection_init != "torch" else ""
            return f"L1-H{self.hidden} from random weights (no pretraining{init}), trained at D = {self.n_train:,}"
        rate = f", rate {self.pretraining_rate:g}" if self.pretraining_rate else ""
        rate += f", projection init {self.projection_init}" if self.projection_init != "torch" else ""
        tuning = f" at {self.rate:g}" if self.rate is not None else ""
        return (f"L1-H{self.hidden} pretrained on {self.pretraining_pairs:,} ICT pairs (keeping its {self.keep} "
                f"check{rate}), fine-tuned at D = {self.n_train:,}{tuning}")


GROUPS = {
    "current": Group(16, 40000, 18000),
    "long": Group(16, 40000, 54000),
    "last": Group(16, 40000, 18000, keep="last"),
    "current32": Group(32, 20000, 18000),
    # the study's joint-grid runs at 20k (baselines, retrained here)
    "current8": Group(8, 20000, 18000),
    "current16": Group(16, 20000, 18000),
    "current24": Group(24, 20000, 18000),
    "last32": Group(32, 20000, 18000, keep="last"),
    # the same fine-tuning from random weights: is the draw noise the pretraining's?
    "scratch16": Group(16, 20000, 0),
    "scratch24": Group(24, 20000, 0),
    "scratch32": Group(32, 20000, 0),
    # a gentler pretraining (the fine-tuning keeps 2e-3): does it spread less?
    "prelr16": Group(16, 20000, 18000, pretraining_rate=5e-4),
    "prelr32": Group(32, 20000, 18000, pretraining_rate=5e-4),
    # the projection drawn as BERT draws its layers (normal 0.02, zero bias) instead of torch's
    # uniform +-1/sqrt(H), whose random scores at the start are wider the narrower the shape
    # (query-centred score sd 3.6 for L1-H8, 0.9 for L1-H128; the loss at the start 2.1x and
    # 1.1x chance): does a start at chance take the narrow shapes' draw spread down?
    **{f"bert{h}": Group(h, 20000, 0, projection_init="bert") for h in (16, 24, 32)},
    **{f"bertpre{h}": Group(h, 20000, 18000, projection_init="bert") for h in (16, 32, 8, 24)},
    # the gentler rate on three times the pairs: does a longer pretraining win back its mean?
    "prelong16": Group(16, 20000, 54000, pretraining_rate=5e-4),
    "prelong32": Group(32, 20000, 54000, pretraining_rate=5e-4),
    # Glorot's normal projection: every width at about the start scale torch gives L1-H128
    **{f"xavier{h}": Group(h, 20000, 18000, projection_init="xavier") for h in (8, 16, 24, 32)},
    "xavier64": Group(64, 20000, 18000, projection_init="xavier", rate=5e-4, draws=2),
    # ... with the pretraining keeping its last check (measured above with torch's projection only)
    **{f"xavierlast{h}": Group(h, 20000, 18000, keep="last", projection_init="xavier") for h in (8, 16, 24, 32)},
    # ... the model-size sweep at 40k with it (the small shapes' pretrainings are the 20k groups')
    **{f"xavier{h}_40k": Group(h, 40000, 18000, projection_init="xavier") for h in (8, 16, 24, 32)},
    **{f"xavier{h}_40k": Group(h, 40000, 18000, projection_init="xavier", rate=5e-4, draws=2) for h in (64, 128)},
    # ... and L1-H8 at the joint grid's small D (the 1-nat margin to chance)
    **{f"xavier8_{d // 1000}k": Group(8, d, 18000, projection_init="xavier") for d in (5000, 10000)},
    # the data-size sweep of the changed profile: L1-H64 (5e-4), xavier, the pretraining keeping its last check
    **{f"xavierlast64_{d / 1000:g}k": Group(64, d, 18000, keep="last", projection_init="xavier", rate=5e-4, draws=2)
       for d in (2500, 5000, 10000, 20000, 40000, 80000)},
    # L1-H64 fine-tunes at 5e-4 (its shape entry) and its draws agreed: does the init cost it?
    "current64": Group(64, 20000, 18000, rate=5e-4, draws=2),
    "bertpre64": Group(64, 20000, 18000, projection_init="bert", rate=5e-4, draws=2),
}


def groups(profile, key: str) -> dict[str, list[tuple[RunSpec, RunSpec]]]:
    """(pretraining, fine-tuning) pairs of each group, one per seed."""
    out = {}
    for name, g in GROUPS.items():
        pairs = []
        overrides = {} if g.keep == "best" else {"keep": g.keep}  # the pretraining's, beside the profile's
        if g.pretraining_rate is not None:
            overrides["learning_rate"] = g.pretraining_rate
        # the group's projection, whatever the profile's (its fine-tunings load the pretraining's
        # projection: "torch" there keeps their run ids as they were before the profile took xavier)
        overrides["projection_init"] = g.projection_init
        tuning = {"learning_rate": g.rate} if g.rate is not None else {}
        for seed in SEEDS[:g.draws]:
            if not g.pretraining_pairs:
                pairs.append((None, make_spec(profile, key, g.hidden, "human", g.n_train, seed=seed,
                                              projection_init=g.projection_init, **tuning)))
                continue
            pre = make_spec(profile, key, g.hidden, "ict", g.pretraining_pairs,
                            options={"keep_sentence_prob": 0.1}, seed=seed, **overrides)
            pairs.append((pre, make_spec(profile, key, g.hidden, "human", g.n_train, init=pre.run_id, seed=seed,
                                         projection_init="torch", **tuning)))
        out[name] = pairs
    return out


def summary(specs: dict) -> None:
    def result(spec):
        path = ROOT / spec.run_id / RESULT_FILE
        return (read_json(path).get("result") or {}) if path.is_file() else {}

    for name, pairs in specs.items():
        print(f"\n{name}: {GROUPS[name].describe()}")
        print(f"  {'seed':>4} {'pretraining test CLL':>20} {'its best check':>14} {'fine-tuned test CLL':>19}")
        tuned = []
        for pre, fine in pairs:
            p, f = (result(pre) if pre is not None else {}), result(fine)
            if f.get("cll_test") is not None:
                tuned.append(f["cll_test"])
            print(f"  {fine.seed:>4} {p.get('cll_test', float('nan')):>20.3f} "
                  f"{str(p.get('best_check')) + '/' + str(p.get('checks')):>14} {f.get('cll_test', float('nan')):>19.3f}")
        precisions = sorted({result(fine).get("precision", "?") for _, fine in pairs if result(fine)})
        if precisions:
            print(f"  trained in {', '.join(precisions)}")
        if len(tuned) >= 2:
            print(f"  fine-tuned: mean {statistics.mean(tuned):.3f}, sd {statistics.stdev(tuned):.3f}, "
                  f"range {max(tuned) - min(tuned):.3f} over {len(tuned)} draws")


def law_over(specs: dict, names: list[str]) -> None:
    """The model-size law over the groups ``names`` (one shape each, one D), or the data-size law
    (and its transfer form) when they share one shape, each draw a point: R², the R² their draw
    spread leaves reachable, the exponent with its 95% bootstrap interval, and the largest N (D)
    held out, as notebook 05 holds it out."""
    from drscaling import laws
    from drscaling.model import DualEncoder, count_nonembedding_params

    by_data = len({GROUPS[name].hidden for name in names}) == 1
    x, losses = [], []
    for name in names:
        g = GROUPS[name]
        value_x = g.n_train if by_data else count_nonembedding_params(DualEncoder.from_shape(1, g.hidden, 8192, seed=0))
        for _, fine in specs[name]:
            path = ROOT / fine.run_id / RESULT_FILE
            value = (read_json(path).get("result") or {}).get("cll_test") if path.is_file() else None
            if value is not None:
                x.append(value_x)
                losses.append(value)
    forms = [("data-size", laws.fit_data_size_law, "beta"), ("data-size, transfer form", laws.fit_data_size_transfer_law,
                                                           "beta")] if by_data else [("model-size", laws.fit_model_size_law, "alpha")]
    largest = max(x)
    for title, fit_fn, exponent in forms:
        fit = fit_fn(x, losses)
        ci = laws.bootstrap(fit_fn, x, losses, full_fit=fit).get(exponent, (float("nan"),) * 2)
        print(f"\n{title} law over {', '.join(names)} ({len(losses)} points): R² {fit.r2:.3f} "
              f"(reachable {fit.r2_ceiling:.3f}), {exponent} {fit.params[exponent]:.3f} [{ci[0]:.3f}, {ci[1]:.3f}] "
              f"(x{ci[1] / ci[0]:.1f}), delta {fit.params['delta']:.3f}; on a bound: {', '.join(fit.bounds_hit) or 'none'}")
        rest = [(v, y) for v, y in zip(x, losses) if v < largest]
        try:
            held = fit_fn([v for v, _ in rest], [y for _, y in rest])
        except ValueError as e:  # too few distinct N (D) left to determine the law
            print(f"  nothing held out: {e}")
        else:
            errors = [f"{(float(held.predict(largest)) - y) / y:+.1%}" for v, y in zip(x, losses) if v == largest]
            print(f"  the largest {'D' if by_data else 'shape'} held out: R² {held.r2:.3f} on the rest, "
                  f"its points predicted {', '.join(errors)} off")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", nargs="+", default=list(GROUPS), choices=list(GROUPS))
    parser.add_argument("--summary-only", action="store_true")
    parser.add_argument("--law", nargs="+", action="append", choices=list(GROUPS), default=[],
                        help="after the summary, fit the model-size law over these groups (shapes of one D; "
                             "the data-size law when they share a shape), each draw a point; repeat for another set")
    args = parser.parse_args()
    from drscaling.datasets import ProcessedData

    profile = load_profile("cpu")
    key = ProcessedData(profile.processed_dir).manifest["key"]
    specs = groups(profile, key)
    if not args.summary_only:
        for name in args.groups:
            for pre, fine in specs[name]:
                for spec in (s for s in (pre, fine) if s is not None):
                    rec = execute_run(spec, ROOT)
                    print(json.dumps({"run": spec.run_id, "status": rec["status"], "skipped": rec.get("skipped")}),
                          flush=True)
    summary(specs)
    for names in args.law:
        law_over(specs, names)


if __name__ == "__main__":
    main()
