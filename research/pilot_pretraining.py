"""Pilot for the cpu profile's pretraining stage (issue 11): does starting every run from a
checkpoint pretrained on inverse-cloze (ICT) pairs of the training passages make the data-size
axis a power law, where the runs from scratch are not?

Runs (the cpu profile's training settings, 3 passes over D, a check every quarter pass), each
group after its shape's pretraining on 18,000 ICT pairs (one per training passage, keep 0.1):
  h64    L1-H64 from its pretraining at D = 2.5k, 5k, 10k, 20k, 40k (3 passes) and 80k (2 passes,
         to save 13 CPU-minutes)
  h16    L1-H16 from its pretraining at D = 2.5k and 10k
  pre16s1, pre24s1  L1-H16 / L1-H24 pretrained with seed 1 (other ICT pairs, other initial
         weights), then fine-tuned at D = 40k, seed 0: how much of a model-size point is the draw of
         its shape's one pretraining (the profile's two fine-tuning seeds share it)

Runs live in ``outputs/pilots/pretrain/runs/<run_id>/`` and are skipped when done (run two
invocations with different --groups to use both cores). The summary prints every run's test
CLL, where its best check lies, and the data-size law fitted to the L1-H64 points, with and
without the largest D, next to the same law on the from-scratch runs given by --scratch (a
results.csv of the cpu profile).

    python research/pilot_pretraining.py [--groups h64 h16] [--summary-only]
        [--scratch outputs/cpu/results.csv]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from drscaling import paths
from drscaling.config import TrainingConfig, from_dict, load_profile
from drscaling.fileio import read_json
from drscaling.grid import RESULT_FILE, RunSpec, execute_run

ROOT = paths.ROOT / "outputs" / "pilots" / "pretrain" / "runs"
ICT = {"keep_sentence_prob": 0.1}


def make_spec(profile, key: str, hidden: int, annotation: str, n_train: int, init: str | None = None,
              options: dict | None = None, seed: int = 0, **overrides) -> RunSpec:
    cfg = from_dict(TrainingConfig, {**dataclasses.asdict(profile.training), **overrides}, "pilot").for_n_train(n_train)
    model = {"layers": 1, "hidden": hidden, **({"init": init} if init else {})}
    return RunSpec(profile="pilot", dataset=profile.dataset, data_key=key, annotation=annotation, model=model,
                   n_train=n_train, seed=seed, training=dataclasses.asdict(cfg), annotation_options=options or {})


def groups(profile, key: str) -> dict[str, list[RunSpec]]:
    pre = {h: make_spec(profile, key, h, "ict", 18000, options=ICT) for h in (16, 64)}
    h64 = [make_spec(profile, key, 64, "human", d, init=pre[64].run_id) for d in (2500, 5000, 10000, 20000, 40000)]
    h64.append(make_spec(profile, key, 64, "human", 80000, init=pre[64].run_id, passes=2))
    h16 = [make_spec(profile, key, 16, "human", d, init=pre[16].run_id) for d in (2500, 10000)]
    other = {h: make_spec(profile, key, h, "ict", 18000, options=ICT, seed=1) for h in (16, 24)}
    seeded = {f"pre{h}s1": [other[h], make_spec(profile, key, h, "human", 40000, init=other[h].run_id)]
              for h in (16, 24)}
    # each group trains its pretraining first (skipped when done)
    return {"h64": [pre[64], *h64], "h16": [pre[16], *h16], **seeded}


def summary(scratch: Path | None) -> None:
    import numpy as np

    from drscaling import laws

    rows = []
    for result in sorted(ROOT.glob(f"*/{RESULT_FILE}")):
        rec = read_json(result)
        spec, res = rec["spec"], rec.get("result") or {}
        rows.append({"run": rec["run_id"], "shape": f"L1-H{spec['model']['hidden']}", "annotation": spec["annotation"],
                     "D": spec["n_train"], "steps": spec["training"]["steps"], "test": res.get("cll_test"),
                     "best_check": f"{res.get('best_check')}/{res.get('checks')}"})
    print(f"{'run':45} {'shape':7} {'D':>6} {'steps':>5} {'test CLL':>8} best check")
    for r in rows:
        print(f"{r['run']:45} {r['shape']:7} {r['D']:>6} {r['steps']:>5} {r['test']:8.3f} {r['best_check']}")
    curves = {"pretrained": {r["D"]: r["test"] for r in rows if r["shape"] == "L1-H64" and r["annotation"] == "human"}}
    if scratch is not None:
        import pandas as pd

        df = pd.read_csv(scratch)
        df = df[(df["status"] == "ok") & df["sweeps"].fillna("").str.contains("data_size") & (df["seed"] == 0)]
        curves["from scratch"] = dict(zip(df["n_train"], df["cll_test"]))
    for name, curve in curves.items():
        d = np.array(sorted(curve), dtype=float)
        y = np.array([curve[k] for k in sorted(curve)])
        if len(d) < 4:
            continue
        fit = laws.fit_data_size_law(d, y)
        held = laws.holdout_check(laws.fit_data_size_law, d, y, holdout_mask=d == d.max())
        print(f"\n{name} L1-H64, seed 0: " + ", ".join(f"{int(k):,} {v:.3f}" for k, v in zip(d, y)))
        print(f"  data-size law: {json.dumps({k: round(float(v), 4) for k, v in fit.params.items()})}, "
              f"R2 {fit.r2:.3f}; on a bound: {', '.join(fit.bounds_hit) or 'none'}; largest D held out: predicted "
              f"{held.predicted[0]:.3f} against {held.observed[0]:.3f} ({100 * held.relative_error[0]:+.1f}%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", nargs="+", default=["h64", "h16"])
    parser.add_argument("--summary-only", action="store_true")
    parser.add_argument("--scratch", type=Path, default=None, help="results.csv of a from-scratch cpu run")
    args = parser.parse_args()
    if not args.summary_only:
        from drscaling.datasets import ProcessedData

        profile = load_profile("cpu")
        key = ProcessedData(profile.processed_dir).manifest["key"]
        specs = groups(profile, key)
        for name in args.groups:
            for spec in specs[name]:
                rec = execute_run(spec, ROOT)
                print(json.dumps({"run": spec.run_id, "status": rec["status"], "skipped": rec.get("skipped")}),
                      flush=True)
    summary(args.scratch)


if __name__ == "__main__":
    main()
