"""Does bf16 autocast on the CPU change what a run learns? Trains some runs of a profile's grid
twice, fp32 and bf16 (training.cpu_bf16), and once more in fp32 with another seed (the
run-to-run difference that one seed per point leaves in the study, for scale). Prints and
writes outputs/precision/<profile>/precision.json. Runs live in outputs/precision/<profile>/runs/
and are skipped when done, so an interrupted comparison resumes.

    python research/compare_precision.py [--profile cpu] [--runs L1-H64:10000 L2-H128:80000]
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from drscaling import paths
from drscaling.config import load_profile
from drscaling.datasets import ProcessedData
from drscaling.fileio import write_json
from drscaling.grid import execute_run, plan_grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--runs", nargs="+", default=["L1-H64:10000", "L1-H128:40000", "L2-H128:80000"],
                        help="MODEL:D points of the profile's grid")
    parser.add_argument("--other-seed", type=int, default=1)
    args = parser.parse_args()
    profile = load_profile(args.profile)
    data = ProcessedData(profile.processed_dir)
    planned = {(p.spec.model_name, p.spec.n_train): p.spec for p in plan_grid(profile, data.manifest["key"])}
    root = paths.outputs_dir("precision") / profile.name
    rows = []
    for point in args.runs:
        name, d = point.split(":")
        spec = planned.get((name, int(d)))
        if spec is None:
            raise SystemExit(f"--runs {point}: not in the {profile.name} grid; it has {sorted(planned)}")
        variants = {
            "fp32": dataclasses.replace(spec, training={**spec.training, "cpu_bf16": False}),
            "bf16": dataclasses.replace(spec, training={**spec.training, "cpu_bf16": True}),
            f"fp32_seed{args.other_seed}": dataclasses.replace(spec, seed=args.other_seed,
                                                              training={**spec.training, "cpu_bf16": False}),
        }
        row = {"model": name, "n_train": int(d)}
        for label, variant in variants.items():
            record = execute_run(variant, root / "runs")
            if record["status"] != "ok":
                row[f"{label}_status"] = record["status"]
                continue
            result = record["result"]
            row[f"{label}_cll_test"] = round(result["cll_test"], 4)
            row[f"{label}_mrr_at_10"] = round(result["mrr_at_10"], 4)
            row[f"{label}_s_per_step"] = round(result["train_seconds"] / result["steps"], 4)
        rows.append(row)
        print(json.dumps(row))
    write_json(root / "precision.json", {"profile": profile.name, "runs": rows})


if __name__ == "__main__":
    main()
