"""Why did noisy pairs beat clean ones at 1,250 pairs in the cpu profile's annotation study?

At D = 1,250 the cpu profile's noisy_human-0.5 runs (half the positives replaced by random
training passages) reached a lower test CLL than the human runs, both draws. Three controls,
each at D = 1,250 on the annotation shape (L1-H64, from the same per-seed ICT pretraining),
with both seeds, beside the two runs they explain:

- ``noisy_human-1.0``: every positive random. If it too beats human pairs, fine-tuning on
  1,250 human pairs harms what the pretraining gave, and noise helps by doing less;
- ``human, keep last``: human pairs with the checkpoint of the last step kept, the step at which
  the noisy runs kept theirs (their best check was their last): the same number of steps;
- ``human, half the rate``: human pairs at half the learning rate, as half the positives being
  random roughly halves the useful gradient;
- ``human, the clean half``: human pairs at D / 2 for the same number of steps (the profile's
  step floor gives both 100): as many clean pairs as the noisy runs have, without the noisy
  ones.

Reports validation and test CLL per run and their means over the seeds (the comparison is read
on validation CLL; test CLL beside it, as the study reports it). Runs go under
``$DRSCALING_OUTPUTS/<profile>/runs`` through the grid (a finished run is skipped), so the two
reference runs are the profile's own annotation runs where they exist.

    .venv/bin/python research/annotation_controls.py [--profile cpu] [--n-train 1250]
"""

from __future__ import annotations

import argparse
import dataclasses

from drscaling import grid
from drscaling.config import load_profile
from drscaling.datasets import ProcessedData, prepare_dataset


def control_runs(planned, n_train: int) -> dict:
    """label -> RunSpec: the profile's human and noisy_human-0.5 runs at ``n_train`` (each seed)
    and the three controls made from them; plus the pretraining runs they start from."""
    at = [p.spec for p in planned if "annotation" in p.sweeps and p.spec.n_train == n_train]
    human = [s for s in at if s.annotation == "human"]
    noisy = [s for s in at if s.annotation == "noisy_human"]
    if not human or not noisy:
        raise SystemExit(f"the profile's annotation study has no human and noisy_human runs at D = {n_train}")
    runs = {}
    for h, n in zip(sorted(human, key=lambda s: s.seed), sorted(noisy, key=lambda s: s.seed)):
        lr = h.training["learning_rate"]
        runs[("human", h.seed)] = h
        runs[(n.annotation_label, n.seed)] = n
        runs[("noisy_human-1", n.seed)] = dataclasses.replace(n, annotation_options={"rate": 1.0})
        runs[("human, keep last", h.seed)] = dataclasses.replace(h, training={**h.training, "keep": "last"})
        runs[(f"human, rate {lr / 2:g}", h.seed)] = dataclasses.replace(
            h, training={**h.training, "learning_rate": lr / 2})
        runs[(f"human, the clean half ({n_train // 2})", h.seed)] = dataclasses.replace(h, n_train=n_train // 2)
    return runs


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--n-train", type=int, default=1250)
    args = parser.parse_args(argv)
    prof = load_profile(args.profile)
    data = prepare_dataset(prof) if not (prof.processed_dir / "manifest.json").is_file() else \
        ProcessedData(prof.processed_dir)
    planned = grid.plan_grid(prof, data.manifest["key"], sweeps=("annotation",))
    runs = control_runs(planned, args.n_train)
    inits = {s.model.get("init") for s in runs.values()}
    pretraining = [p for p in planned if p.run_id in inits]
    grid.run_grid(prof, pretraining + [grid.PlannedRun(s, ("annotation",)) for s in runs.values()])
    table = grid.collect_results(prof, [grid.PlannedRun(s, ("annotation",)) for s in runs.values()])
    label = {s.run_id: name for (name, _), s in runs.items()}
    table["control"] = table["run_id"].map(label)
    rows = table[["control", "seed", "cll_validation", "cll_test", "best_step", "steps", "status"]]
    print(rows.sort_values(["control", "seed"]).to_string(index=False))
    means = rows[rows["status"] == "ok"].groupby("control", sort=False)[["cll_validation", "cll_test"]].mean()
    print("\nmean over the seeds:")
    print(means.round(4).sort_values("cll_validation").to_string())


if __name__ == "__main__":
    main()
