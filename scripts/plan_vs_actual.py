"""How far `make plan`'s wall-time estimate was from the call that followed it: notebook by
notebook (papermill's recorded duration of 02 and 04, which train the runs) and run by run
(result.json's wall, training and evaluation seconds against the estimate's parts).

    make plan PROFILE=cpu            # writes outputs/cpu/wall_estimate.json (all runs pending)
    make reproduce PROFILE=cpu
    python scripts/plan_vs_actual.py --profile cpu [--estimate FILE] [--outputs DIR] [--json FILE]

Runs trained before the estimate (not pending in it) are left out of the per-run comparison.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from drscaling import paths
from drscaling.fileio import write_json

TRAINING_NOTEBOOKS = ("02_train_grid", "04_annotation_quality")


def notebook_seconds(outputs: Path) -> dict[str, float]:
    """Each executed notebook's duration as papermill recorded it."""
    out = {}
    for path in sorted((outputs / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        meta = json.loads(path.read_text()).get("metadata", {}).get("papermill", {})
        if meta.get("duration") is not None:
            out[path.stem] = float(meta["duration"])
    return out


def compare(estimate: dict, outputs: Path, started_after: str | None = None) -> dict:
    actual_nb = notebook_seconds(outputs)
    notebooks = {}
    for name, est in estimate["notebooks"].items():
        got = actual_nb.get(name)
        notebooks[name] = {"estimated_s": round(est["seconds"], 1), "actual_s": got,
                           "error": None if not got else round(est["seconds"] / got - 1, 3)}
    trained = [n for n in TRAINING_NOTEBOOKS if n in actual_nb]
    est_total = sum(estimate["notebooks"][n]["seconds"] for n in trained if n in estimate["notebooks"])
    act_total = sum(actual_nb[n] for n in trained)
    runs = []
    for run_id, seconds in estimate["per_run"].items():
        result = outputs / "runs" / run_id / "result.json"
        if not result.is_file():
            continue
        r = json.loads(result.read_text())
        if started_after and (r.get("started") or "") <= started_after:
            continue
        parts = estimate.get("per_run_parts", {}).get(run_id, {})
        runs.append({"run_id": run_id, "started": r.get("started"), "estimated_s": seconds, "wall_s": r["wall_seconds"],
                     "estimated_train_s": (parts.get("train") or 0) + (parts.get("checks") or 0),
                     "train_s": r["result"].get("train_seconds"),
                     "estimated_eval_s": parts.get("evaluation"), "eval_s": r["result"].get("eval_seconds")})
    ratio = np.array([r["estimated_s"] / r["wall_s"] for r in runs]) if runs else np.array([])
    train_ratio = np.array([r["estimated_train_s"] / r["train_s"] for r in runs if r["train_s"]])
    return {
        "profile": estimate["profile"], "estimate_made": estimate.get("made"), "machine": estimate["machine"],
        "notebooks": notebooks, "all_notebooks_actual_s": round(sum(actual_nb.values()), 1),
        "training_notebooks": {"estimated_s": round(est_total, 1), "actual_s": round(act_total, 1),
                               "error": round(est_total / act_total - 1, 3) if act_total else None},
        "runs_compared": len(runs), "runs_started_after": started_after,
        "runs_estimated_s": round(sum(r["estimated_s"] for r in runs), 1),
        "runs_actual_s": round(sum(r["wall_s"] for r in runs), 1),
        "run_ratio_estimated_over_actual": {"median": float(np.median(ratio)), "min": float(ratio.min()),
                                            "max": float(ratio.max())} if len(ratio) else None,
        "train_ratio_estimated_over_actual": {"median": float(np.median(train_ratio)), "min": float(train_ratio.min()),
                                              "max": float(train_ratio.max())} if len(train_ratio) else None,
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--outputs", type=Path, help="the profile's outputs folder (default: outputs/<profile>)")
    parser.add_argument("--estimate", type=Path, help="the estimate (default: <outputs>/wall_estimate.json)")
    parser.add_argument("--json", type=Path, help="also write the comparison here")
    parser.add_argument("--started-after", help="compare only the runs that started after this ISO time "
                                                "(e.g. leave out runs that had other work beside them)")
    args = parser.parse_args()
    outputs = args.outputs or paths.outputs_dir(args.profile)
    estimate = json.loads((args.estimate or outputs / "wall_estimate.json").read_text())
    report = compare(estimate, outputs, args.started_after)
    if args.json:
        write_json(args.json, report)
    summary = {k: v for k, v in report.items() if k != "runs"}
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
