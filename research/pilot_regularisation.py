"""Pilot for issue 11: does regularising the fine-tuning (dropout, weight decay, a smaller
learning rate, a smaller batch) lower the small-D points of the data-size axis relative to the
large-D ones, so that the curve becomes a power law rather than steepening from 20k to 40k?

Every run is L1-H64 fine-tuned from its ICT pretraining (the pretraining pilot's run, which
this script links into its own runs folder), seed 0, the cpu profile's settings (3 passes over
D, a check every quarter pass) with one variant's overrides:

  base    the cpu profile as it is (dropout 0.1, weight decay 0.01, lr 2e-3, batch 64)
  drop3   dropout 0.3
  wd1     weight decay 0.1
  lr1     learning rate 1e-3
  lr05    learning rate 5e-4
  lr025   learning rate 2.5e-4
  lr4     learning rate 4e-3       (lr4, lr133: the rule lr = 2e-3 x 16 / H for L1-H8 and L1-H24)
  lr133   learning rate 1.333e-3
  b32     batch 32 (twice the updates per pass, the same pairs seen)

Runs live in ``outputs/pilots/regularise/runs/<run_id>/`` and are skipped when done; run two
invocations with different --variants to use both cores. The summary prints every run's test
CLL and best check, and per variant the gain in log CLL per doubling of D.

    python research/pilot_regularisation.py --variants base drop3 --d 5000 20000
    python research/pilot_regularisation.py --variants lr05 --hidden 16 --d 40000 \
        --init <a cpu run's runs/ict-L1-H16-D18000-s0-...>
    python research/pilot_regularisation.py --variants lr1 --hidden 32 --d 40000 --seeds 0 1 --init ...
    python research/pilot_regularisation.py --summary-only
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from drscaling import paths
from drscaling.config import load_profile
from drscaling.fileio import read_json
from drscaling.grid import RESULT_FILE, execute_run

from pilot_pretraining import ICT, ROOT as PRETRAIN_ROOT, make_spec

ROOT = paths.ROOT / "outputs" / "pilots" / "regularise" / "runs"
VARIANTS = {
    "base": {},
    "drop3": {"dropout": 0.3},
    "wd1": {"weight_decay": 0.1},
    "lr1": {"learning_rate": 1e-3},
    "lr05": {"learning_rate": 5e-4},
    "lr025": {"learning_rate": 2.5e-4},
    "lr4": {"learning_rate": 4e-3},
    "lr133": {"learning_rate": 1.333e-3},
    "b32": {"batch_size": 32},
}


def variant_of(training: dict, profile) -> str:
    for name, overrides in VARIANTS.items():
        if all(training.get(k) == v for k, v in overrides.items()) and all(
                training.get(k, getattr(profile.training, k)) == getattr(profile.training, k)
                for other in VARIANTS.values() for k in other if k not in overrides):
            return name
    return "?"


def summary(profile) -> None:
    rows = []
    for result in sorted(ROOT.glob(f"*/{RESULT_FILE}")):
        rec = read_json(result)
        spec, res = rec["spec"], rec.get("result") or {}
        if spec["annotation"] != "human":
            continue
        rows.append({"variant": variant_of(spec["training"], profile), "shape": f"L1-H{spec['model']['hidden']}",
                     "D": spec["n_train"], "seed": spec["seed"],
                     "steps": spec["training"]["steps"], "test": res.get("cll_test"), "val": res.get("cll_validation"),
                     "best": f"{res.get('best_check')}/{res.get('checks')}", "seconds": res.get("train_seconds")})
    rows.sort(key=lambda r: (r["shape"], list(VARIANTS).index(r["variant"]) if r["variant"] in VARIANTS else 99,
                             r["D"], r["seed"]))
    print(f"{'shape':7} {'variant':8} {'D':>6} {'seed':>4} {'steps':>5} {'val CLL':>8} {'test CLL':>8} {'best check':>10} "
          f"{'train s':>7}")
    for r in rows:
        print(f"{r['shape']:7} {r['variant']:8} {r['D']:>6} {r['seed']:>4} {r['steps']:>5} {r['val']:8.3f} {r['test']:8.3f} "
              f"{r['best']:>10} {r['seconds']:7.0f}")
    # the comparison a design decision reads: validation first (issue 26), test beside it
    print("\nMean over seeds, per shape, D and variant (validation | test):")
    cells: dict = {}
    for r in rows:
        cells.setdefault((r["shape"], r["D"], r["variant"]), []).append((r["val"], r["test"]))
    for (shape, d, name), v in cells.items():
        val, test = (sum(x[i] for x in v) / len(v) for i in (0, 1))
        print(f"  {shape:7} D = {d:>6} {name:8} {len(v)} seed(s): {val:.3f} | {test:.3f}")
    print("\nL1-H64: gain in log test CLL per doubling of D (larger is steeper):")
    for name in VARIANTS:
        curve = {r["D"]: r["test"] for r in rows if r["variant"] == name and r["shape"] == "L1-H64"}
        ds = sorted(curve)
        if len(ds) > 1:
            gains = [(math.log(curve[a]) - math.log(curve[b])) / math.log2(b / a) for a, b in zip(ds, ds[1:])]
            print(f"  {name:8} " + ", ".join(f"{a // 1000}k->{b // 1000}k {g:.3f}" for a, b, g in zip(ds, ds[1:], gains)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--d", nargs="+", type=int, default=[5000, 20000])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--hidden", type=int, default=64, help="L1-H<hidden> (other than 64: give --init)")
    parser.add_argument("--init", type=Path, default=None,
                        help="the pretraining run folder to start from (default: the pretraining pilot's L1-H64)")
    parser.add_argument("--reuse", type=Path, default=None,
                        help="a runs folder (e.g. a finished cpu run's runs/) whose finished runs of the same id are "
                             "linked instead of trained: the profile's own arm of a comparison")
    parser.add_argument("--summary-only", action="store_true")
    args = parser.parse_args()
    profile = load_profile("cpu")
    if not args.summary_only:
        from drscaling.datasets import ProcessedData

        key = ProcessedData(profile.processed_dir).manifest["key"]
        init = args.init or PRETRAIN_ROOT / make_spec(profile, key, 64, "ict", 18000, options=ICT).run_id
        ROOT.mkdir(parents=True, exist_ok=True)
        link = ROOT / init.name  # train.build_model reads the init beside the run
        if not link.exists():
            if not (init / "best").is_dir():
                raise SystemExit(f"{init}: no kept checkpoint (for L1-H64 run research/pilot_pretraining.py --groups h64)")
            link.symlink_to(init.resolve(), target_is_directory=True)
        for name, d, seed in [(n, d, s) for n in args.variants for d in args.d for s in args.seeds]:
            spec = make_spec(profile, key, args.hidden, "human", d, init=init.name, seed=seed, **VARIANTS[name])
            # the base runs of the pretraining pilot, or the same run of a finished profile (--reuse)
            for done_before in [PRETRAIN_ROOT / spec.run_id] + ([args.reuse / spec.run_id] if args.reuse else []):
                if not (ROOT / spec.run_id).exists() and (done_before / RESULT_FILE).is_file():
                    (ROOT / spec.run_id).symlink_to(done_before.resolve(), target_is_directory=True)
            rec = execute_run(spec, ROOT)
            print(json.dumps({"variant": name, "D": d, "seed": seed, "run": spec.run_id, "status": rec["status"],
                              "skipped": rec.get("skipped")}), flush=True)
    summary(profile)


if __name__ == "__main__":
    main()
