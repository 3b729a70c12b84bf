"""``python -m drscaling grid``: plan and train a profile's grid from the command line."""

from __future__ import annotations

import warnings
from typing import Iterable

from .execute import run_grid
from .plan import PlanWarning, plan_grid, warn_about_plan
from .results import plan_table
from .spec import FAILED, MAIN_SWEEPS, runs_dir


# ---------------------------------------------------------------- command line

def cli(profile_name: str, executor: str | None = None, ray_address: str | None = None,
        gpus_per_run: float | None = None, dry_run: bool = False, sweeps: Iterable[str] = MAIN_SWEEPS,
        strict: bool = False) -> int:
    """``python -m drscaling grid``: plan (and with --dry-run only print) the profile's grid,
    run it, print a summary. Returns 1 if some run failed. ``strict``: refuse a plan that
    :func:`warn_about_plan` warns about (ConfigError)."""
    import sys

    import pandas as pd

    from ..config import load_profile
    from ..datasets.processed import ProcessedData

    profile = load_profile(profile_name)
    try:
        data_key = ProcessedData(profile.processed_dir).manifest["key"]
    except FileNotFoundError:
        if not dry_run:
            raise FileNotFoundError(
                f"{profile.processed_dir} is not prepared; run data preparation first "
                f"(`python -m drscaling prepare --profile {profile.name}` or `make 01_prepare_data PROFILE={profile.name}`)"
            ) from None
        data_key = "unprepared"
        print(f"note: {profile.processed_dir} is not prepared yet; the run ids below change once it is",
              file=sys.stderr)
    planned = plan_grid(profile, data_key, sweeps)
    chance = None
    if data_key != "unprepared":
        import math

        k = (ProcessedData(profile.processed_dir).manifest.get("data") or {}).get("cll_negatives")
        chance = None if k is None else math.log(k + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlanWarning)
        for message in warn_about_plan(planned, profile, chance, strict=strict):
            print(f"warning: {message}", file=sys.stderr)
    if not planned:
        print(f"the grid of profile {profile.name} is empty (set grid.model_size_shapes, "
              f"grid.data_size_shape or grid.joint_shapes in {profile.path})")
        return 0
    table = plan_table(profile, planned)
    if dry_run:
        with pd.option_context("display.width", 200, "display.max_rows", None):
            print(table.to_string(index=False))
        counts = table["state"].value_counts().to_dict()
        print(f"{len(table)} runs in {runs_dir(profile)}: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
        return 0
    records = run_grid(profile, planned, executor=executor, ray_address=ray_address, gpus_per_run=gpus_per_run)
    rows = []
    for r in records:
        result = r.get("result") or {}
        rows.append({"run_id": r["run_id"], "sweeps": ",".join(r.get("sweeps", [])), "status": r["status"],
                     "this_call": "skipped" if r.get("skipped") else "ran",
                     "cll_test": result.get("cll_test"), "n_params": result.get("n_params"),
                     "steps": result.get("steps"), "wall_seconds": r.get("wall_seconds"),
                     "error": (r.get("error") or {}).get("message")})
    with pd.option_context("display.width", 200, "display.max_rows", None, "display.max_colwidth", 60):
        print(pd.DataFrame(rows).to_string(index=False))
    failed = [r for r in records if r["status"] == FAILED]
    ran = sum(not r.get("skipped") for r in records)
    print(f"{len(records)} runs: {ran} ran now, {len(records) - ran} were done, {len(failed)} failed; "
          f"results in {runs_dir(profile)}")
    if failed:
        print(f"error: {len(failed)} run(s) failed; see error.json in their folders; "
              f"running the grid again retries them", file=sys.stderr)
        return 1
    return 0
