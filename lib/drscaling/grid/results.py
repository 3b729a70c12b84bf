"""Results: the run folders read back into one table, the stage summary, and the checks that
the later stages make of a grid (missing runs, one trainer version)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ..annotation.methods import method_label
from ..config import Profile
from ..fileio import read_json, write_json
from ..provenance import TRAINER_VERSION
from .spec import (
    DONE_STATUSES,
    ERROR_FILE,
    FAILED,
    RESULT_FILE,
    IncompleteGridError,
    PlannedRun,
    RunsFailedError,
    RunSpec,
    _as_planned,
    _now,
    _short_name,
    is_done,
    runs_dir,
)

# ---------------------------------------------------------------- results

def _spec_columns(spec: dict) -> dict:
    model = spec.get("model", {})
    name = (_short_name(model["pretrained"]) if "pretrained" in model
            else f"L{model.get('layers')}-H{model.get('hidden')}")
    options = spec.get("annotation_options") or {}
    return {
        "annotation": method_label(spec.get("annotation"), options),
        "annotation_method": spec.get("annotation"),
        **{f"annotation.{k}": v for k, v in sorted(options.items())},
        "model": name,
        "layers": model.get("layers"),
        "hidden": model.get("hidden"),
        "pretrained": model.get("pretrained"),
        "n_train": spec.get("n_train"),
        "seed": spec.get("seed"),
        "trainer_version": spec.get("trainer_version", 0),
        "dataset": spec.get("dataset"),
        "data_key": spec.get("data_key"),
        **{f"training.{k}": v for k, v in sorted(spec.get("training", {}).items())},
    }


BASE_COLUMNS = ["run_id", "status", "annotation", "model", "layers", "hidden", "pretrained", "n_train", "seed",
                "sweeps", "n_params", "trainer_version", "wall_seconds", "host", "finished", "error_type", "error"]
PENDING = "pending"  # a planned run with neither result.json nor error.json


def _provenance_columns(record: dict) -> dict:
    """``provenance.<key>`` columns of a result or error record (empty for older records)."""
    return {f"provenance.{k}": v for k, v in sorted((record.get("provenance") or {}).items())}


def collect_results(profile: Profile, planned: Iterable[PlannedRun | RunSpec] | None = None):
    """One row per run folder with result.json (spec fields, every field of the trainer's
    result, status, sweeps, wall seconds, host, ``provenance.*``) or with only error.json
    (status ``failed``, ``error_type``, ``error``). Given ``planned``, only the plan's runs,
    tagged with its sweeps (folders of older settings are left out), and a row with status
    ``pending`` for each planned run without a record; otherwise every folder, tagged as recorded.
    Sorted by annotation, n_params (or layers, hidden), n_train, seed."""
    import pandas as pd

    root = runs_dir(profile)
    plan = None if planned is None else {p.run_id: p for p in map(_as_planned, planned)}
    rows = []
    folders = sorted(root.iterdir()) if root.is_dir() else []
    for run_dir in folders:
        if plan is not None and run_dir.name not in plan:
            continue
        if (run_dir / RESULT_FILE).is_file():
            rec = read_json(run_dir / RESULT_FILE)
            result = {k: v for k, v in (rec.get("result") or {}).items() if k != "status"}
            fixed = {"run_id": rec["run_id"], "status": rec["status"], **_spec_columns(rec["spec"]),
                     "sweeps": rec.get("sweeps", []), "wall_seconds": rec.get("wall_seconds"),
                     "host": rec.get("host"), "finished": rec.get("finished"), "error_type": None, "error": None,
                     **_provenance_columns(rec)}
            clash = {k: result.pop(k) for k in list(result) if k in fixed}
            rows.append({**result, **{f"result.{k}": v for k, v in clash.items()}, **fixed})
        elif (run_dir / ERROR_FILE).is_file():
            rec = read_json(run_dir / ERROR_FILE)
            rows.append({"run_id": rec["run_id"], "status": FAILED, **_spec_columns(rec["spec"]),
                         "sweeps": rec.get("sweeps", []), "wall_seconds": rec.get("wall_seconds"),
                         "host": rec.get("host"), "finished": rec.get("time"),
                         "error_type": rec["error"]["type"], "error": rec["error"]["message"],
                         **_provenance_columns(rec)})
    if plan is not None:  # planned runs that never started or were interrupted: pending
        recorded = {row["run_id"] for row in rows}
        rows += [{"run_id": run_id, "status": PENDING, **_spec_columns(p.spec.to_dict()), "sweeps": []}
                 for run_id, p in plan.items() if run_id not in recorded]
        for row in rows:
            row["sweeps"] = list(plan[row["run_id"]].sweeps)
    for row in rows:
        row["sweeps"] = ",".join(row["sweeps"])
    df = pd.DataFrame(rows)
    for c in BASE_COLUMNS:
        if c not in df.columns:
            df[c] = None
    df = df[BASE_COLUMNS + sorted(c for c in df.columns if c not in BASE_COLUMNS)]
    if len(df):
        df = df.sort_values(["annotation", "n_params", "layers", "hidden", "pretrained", "n_train", "seed", "run_id"],
                            na_position="last", kind="stable").reset_index(drop=True)
    return df


# results.csv's leading columns: the study's record of each run (every other column follows)
RESULT_COLUMNS = ["run_id", "annotation", "model", "layers", "hidden", "n_params", "n_params_paper_code", "n_train",
                  "seed", "cll_test", "cll_validation", "mrr_at_10", "ndcg_at_10", "recall_at_10", "recall_at_100",
                  "steps", "best_step", "train_seconds", "eval_seconds", "status", "sweeps", "trainer_version",
                  "precision", "provenance.commit", "provenance.dirty"]


def results_table(results):
    """:func:`collect_results`' table with :data:`RESULT_COLUMNS` first (empty where no run
    recorded one), then every other column."""
    table = results.copy()
    for column in RESULT_COLUMNS:
        if column not in table:
            table[column] = None
    return table[RESULT_COLUMNS + [c for c in table.columns if c not in RESULT_COLUMNS]]


def plan_table(profile: Profile, planned: Iterable[PlannedRun | RunSpec]):
    """The plan as a table: run_id, model, n_train, seed, sweeps, done."""
    import pandas as pd

    root = runs_dir(profile)
    rows = []
    for p in map(_as_planned, planned):
        run_dir = root / p.run_id
        state = "done" if is_done(run_dir) else "failed" if (run_dir / ERROR_FILE).is_file() else "pending"
        rows.append({"run_id": p.run_id, "annotation": p.spec.annotation_label, "model": p.spec.model_name,
                     "n_train": p.spec.n_train, "seed": p.spec.seed, "sweeps": ",".join(p.sweeps), "state": state})
    return pd.DataFrame(rows, columns=["run_id", "annotation", "model", "n_train", "seed", "sweeps", "state"])


def summary_path(profile: Profile) -> Path:
    """The training stage's output: what the grid planned and how each run ended."""
    return runs_dir(profile) / "grid.json"


def failure_lines(records: Iterable[dict]) -> list[str]:
    """``<run_id>: <error type>: <first line of the message>`` for each failed record."""
    out = []
    for r in records:
        if r.get("status") == FAILED:
            error = r.get("error") or {}
            first = (str(error.get("message", "")).strip().splitlines() or [""])[0]
            out.append(f"{r['run_id']}: {error.get('type', 'Error')}: {first}")
    return out


def check_failures(records: list[dict], profile: Profile, what: str, output: Path) -> list[str]:
    """The failure lines of ``records`` (see :func:`failure_lines`). If some run failed and the
    profile does not say ``allow_missing_runs: true``, the stage's ``output`` (from an earlier
    success) is removed, so that it never outlives its truth, and :class:`RunsFailedError`
    names every failed run and the first line of its error."""
    lines = failure_lines(records)
    if lines and not profile.allow_missing_runs:
        Path(output).unlink(missing_ok=True)
        raise RunsFailedError(
            f"{len(lines)} of {len(records)} runs of {what} failed (the other runs are finished and will be "
            f"skipped; running again retries exactly these):\n  " + "\n  ".join(lines))
    return lines


def write_summary(profile: Profile, records: list[dict]) -> Path:
    """Write ``runs/grid.json`` (atomically): one entry per planned run with its status, and
    ``complete``. A failed run raises :class:`RunsFailedError` instead (and removes an older
    grid.json), so that `make reproduce` ends non-zero and the next one retries it; with
    ``allow_missing_runs: true`` the summary is written with ``"complete": false`` and the
    failures, and the Makefile reruns the stage next time (retrying them)."""
    path = summary_path(profile)
    failed = check_failures(records, profile, f"the grid of profile {profile.name}", path)
    runs = [{"run_id": r["run_id"], "status": r["status"], "sweeps": list(r.get("sweeps", []))} for r in records]
    counts: dict[str, int] = {}
    for r in runs:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    write_json(path, {"profile": profile.name, "finished": _now(), "counts": counts, "runs": runs,
                      "trainer_version": TRAINER_VERSION, "complete": not failed, "failed": failed})
    return path


def missing_runs(results) -> list[dict]:
    """The rows of a results table (:func:`collect_results` with a plan, or results.csv) whose
    run is not finished: ``{"run_id", "status" (failed / pending), "sweeps", "error"}``."""
    rows = results[~results["status"].isin(DONE_STATUSES)]
    out = []
    for _, r in rows.iterrows():
        error = r.get("error")
        out.append({"run_id": r["run_id"], "status": r["status"], "sweeps": r.get("sweeps") or "",
                    "error": None if not isinstance(error, str) else (error.strip().splitlines() or [""])[0]})
    return out


def require_complete(profile: Profile, results, stage: str) -> list[dict]:
    """The missing runs of ``results`` (see :func:`missing_runs`); raise
    :class:`IncompleteGridError` if there are some and the profile does not allow them."""
    missing = missing_runs(results)
    if missing and not profile.allow_missing_runs:
        lines = [f"{m['run_id']} ({m['status']}{': ' + m['error'] if m['error'] else ''})" for m in missing]
        raise IncompleteGridError(
            f"{stage}: {len(missing)} planned run(s) of profile {profile.name} are not finished:\n  "
            + "\n  ".join(lines) + f"\nrun the grid again (`make reproduce PROFILE={profile.name}` retries them), "
            f"or set allow_missing_runs: true in {profile.path} to go on without them")
    return missing


def check_trainer_versions(results, where: str) -> int:
    """The one trainer version of a results table's runs; a ValueError if they differ (runs of
    two trainers are not one experiment) or if a run predates trainer versions."""
    versions = sorted({int(v) for v in results["trainer_version"].fillna(0)})
    if len(versions) > 1 or versions == [0]:
        counts = results["trainer_version"].fillna(0).astype(int).value_counts().sort_index().to_dict()
        raise ValueError(f"{where}: the runs come from different or unversioned trainers (trainer_version: "
                         f"number of runs = {counts}); fit runs of one trainer version only "
                         f"(this code's is {TRAINER_VERSION}): rerun the grid, or drop the other rows")
    return versions[0] if versions else TRAINER_VERSION


def training_logs(profile: Profile, run_ids: Iterable[str]):
    """The periodic records of each run's log.jsonl as one table (run_id, step, ...)."""
    import json

    import pandas as pd

    rows = []
    for run_id in run_ids:
        log = runs_dir(profile) / run_id / "log.jsonl"
        if log.is_file():
            for line in log.read_text().splitlines():
                rec = json.loads(line)
                if "event" not in rec:
                    rows.append({"run_id": run_id, **rec})
    return pd.DataFrame(rows)
