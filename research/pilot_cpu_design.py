"""Pilot measurements for the redesign of the cpu profile (issue 11): validation CLL against
steps per shape up to its plateau, the data-size axis in passes over D, the seed-to-seed spread
of test CLL, and how the size of the periodic validation check changes the kept checkpoint.

Every pilot is a run of the library's trainer (``drscaling.grid.execute_run``) built from the
profile's training settings with the overrides below; runs live in
``outputs/pilots/<profile>/runs/<run_id>/`` and are skipped when done, so an interrupted or
repeated invocation resumes. The summary (every run's curve of periodic checks, its result and
the per-group analyses) goes to ``outputs/pilots/<profile>/pilots.json``; tables are printed.

    python research/pilot_cpu_design.py [--groups data check_size seeds curves curves_large curves_lr]
    python research/pilot_cpu_design.py --summary-only     # tables from the runs already done

Groups (the profile's training settings, cpu_bf16 as the profile (fp32 on a CPU without bf16
instructions), lr 2e-3 with 80 warmup steps (a tenth of short runs) and linear decay, one thread,
2,000 check pairs):
  data        L1-H32 at D = 2.5k, 10k, 40k and L1-H64 at 2.5k, 10k, for 8 passes over D, a check
              every quarter pass
  check_size  the data group's L1-H64 D=10k run with its periodic check on 500 pairs (same seed:
              same training trajectory, only the kept checkpoint can differ)
  seeds       seeds 0, 1, 2 of the data group's L1-H32 D=2.5k and D=10k, and of L1-H16 D=80k 4,000 steps
  curves      L1-H8, -H16, -H32, -H64 at D = 80k, 4,000 steps, a check every 250 steps
  curves_large  L1-H128 the same (not in the default groups: 40 CPU-minutes here)
  curves_lr   L1-H32 at D = 80k, 4,000 steps, lr 5e-3 with linear decay, and constant

Two invocations may run at once on different groups (a run one of them is training is skipped
by the other, through a lock file under outputs/pilots/<profile>/locks/).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from drscaling import paths
from drscaling.config import TrainingConfig, from_dict, load_profile
from drscaling.datasets import ProcessedData
from drscaling.fileio import read_json, write_json
from drscaling.grid import RESULT_FILE, RunSpec, execute_run

CHANCE = math.log(257)  # 256 negatives + the positive
PLATEAU_TOL = 0.05  # checks within this of the best count as "on the plateau"
# threads 1: on 2 cores shared with other jobs, two OpenMP threads that wait on each other were
# 20x slower per step than one (3.4 s against 0.16 s for L1-H16, measured under load)
COMMON = {"cpu_bf16": True, "eval_pairs": 2000, "threads": 1}
# TrainingConfig's fields when the pilots were first run
PINNED_FIELDS = ("steps", "batch_size", "negatives", "in_batch_negatives", "learning_rate", "warmup_steps",
                 "schedule", "weight_decay", "max_grad_norm", "max_query_length", "max_passage_length",
                 "eval_every", "eval_pairs", "eval_pool", "select_on", "stall_margin", "projection_dim", "threads",
                 "bf16", "cpu_bf16")
TRAINING_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainingConfig)}


@dataclass(frozen=True)
class Pilot:
    group: str
    label: str
    layers: int
    hidden: int
    n_train: int
    steps: int
    eval_every: int
    seed: int = 0
    overrides: dict = field(default_factory=dict)  # further TrainingConfig settings

    def training(self, base: dict) -> dict:
        t = {**base, **COMMON, "steps": self.steps, "eval_every": self.eval_every, **self.overrides}
        full = dataclasses.asdict(from_dict(TrainingConfig, t, f"pilot {self.label}: training"))
        # Settings added to TrainingConfig after these pilots were first run are left out of the
        # spec while they hold their defaults (which leave training unchanged), so that a pilot's
        # id, and with it a finished run, survives their addition (as RunSpec does with an empty
        # annotation_options). A setting that changes numerics comes with a new TRAINER_VERSION,
        # which is part of the id anyway.
        return {k: v for k, v in full.items() if k in PINNED_FIELDS or v != TRAINING_DEFAULTS[k]}

    @property
    def shape(self) -> str:
        return f"L{self.layers}-H{self.hidden}"


def _passes_pilot(group: str, hidden: int, d: int, seed: int = 0, passes: int = 8, batch: int = 64,
                  **extra) -> Pilot:
    """``passes`` over D, a check every quarter pass (at least every 10 steps), warmup a tenth of
    the steps (at most 80)."""
    steps = passes * d // batch
    tag = "".join(f" {k} {v}" for k, v in extra.items())
    return Pilot(group, f"L1-H{hidden} D{d} {passes}p{tag} seed {seed}", 1, hidden, d, steps, max(10, d // 256),
                 seed, {"learning_rate": 2.0e-3, "schedule": "linear", "warmup_steps": min(80, steps // 10), **extra})


def _curve_pilot(group: str, hidden: int, seed: int = 0, **overrides) -> Pilot:
    lr = {"learning_rate": 2.0e-3, "warmup_steps": 80, "schedule": "linear", **overrides}
    tag = "".join(f" {k} {v:g}" if isinstance(v, float) else f" {v}" for k, v in overrides.items())
    return Pilot(group, f"L1-H{hidden} D80000{tag} seed {seed}", 1, hidden, 80000, 4000, 250, seed, lr)


def pilots() -> dict[str, list[Pilot]]:
    """The pilots, by group. Shared points are one run (same spec, same id): the seed-0 run of each
    seeds point is the data or curves group's, and the 2,000-pair twin of check_size is the data
    group's L1-H64 D=10k run. (On this machine, fp32 only and under load, the brief's plan, with
    separate seed points, 1,250-step check_size twins and two 40k-pair L1-H64 runs, was about
    2.5 hours of CPU time; these shared points cut it to about 1.5.)"""
    return {
        "data": [_passes_pilot("data", h, d) for h, d in
                 [(32, 2500), (32, 10000), (32, 40000), (64, 2500), (64, 10000)]],
        "check_size": [_passes_pilot("check_size", 64, 10000, eval_pairs=n) for n in (500, 2000)],
        "seeds": [_passes_pilot("seeds", 32, d, seed) for d in (2500, 10000) for seed in (0, 1, 2)]
                 + [_curve_pilot("seeds", 16, seed) for seed in (0, 1, 2)],
        "curves": [_curve_pilot("curves", h) for h in (8, 16, 32, 64)],
        # L1-H128 (about 40 CPU-minutes on a 2-core AVX2 machine in fp32): left out of the
        # default run; its 3,200-step curve in bf16 is in ../shared/DESIGN.md
        "curves_large": [_curve_pilot("curves", 128)],
        "curves_lr": [_curve_pilot("curves_lr", 32, learning_rate=5.0e-3, schedule=sched)
                      for sched in ("linear", "constant")],
    }


# ---------------------------------------------------------------- reading a run back

def read_log(run_dir: Path) -> list[dict]:
    path = run_dir / "log.jsonl"
    if not path.is_file():
        return []
    rows = [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]
    return [r for r in rows if "validation_cll_check" in r]


def summarise(p: Pilot, spec: RunSpec, run_dir: Path, record: dict, cpu_seconds: float | None) -> dict:
    checks = read_log(run_dir)
    res = record.get("result") or {}
    t = spec.training
    row = {
        "group": p.group, "label": p.label, "run_id": spec.run_id, "status": record.get("status"),
        "shape": p.shape, "n_params": res.get("n_params"), "n_train": p.n_train, "seed": p.seed,
        "steps": t["steps"], "eval_every": t["eval_every"], "eval_pairs": t["eval_pairs"],
        "learning_rate": t["learning_rate"], "warmup_steps": t["warmup_steps"], "schedule": t["schedule"],
        "passes": round(t["steps"] * t["batch_size"] / p.n_train, 3),
        "cll_test": res.get("cll_test"), "cll_validation": res.get("cll_validation"),
        "mrr_at_10": res.get("mrr_at_10"), "best_step": res.get("best_step"),
        "train_seconds": res.get("train_seconds"), "eval_seconds": res.get("eval_seconds"),
        "wall_seconds": record.get("wall_seconds"), "cpu_seconds": cpu_seconds,
        "s_per_step_under_load": round(res["train_seconds"] / res["steps"], 4) if res.get("steps") else None,
        "curve": [{"step": c["step"], "check": round(c["validation_cll_check"], 4),
                   "train_loss": round(c["train_loss"], 4), "lr": c.get("lr")} for c in checks],
    }
    if not checks:
        return row
    values = [c["validation_cll_check"] for c in checks]
    i_best = min(range(len(values)), key=values.__getitem__)
    best = values[i_best]
    on_plateau = [c["step"] for c, v in zip(checks, values) if v <= best + PLATEAU_TOL]
    jumps = [abs(b - a) for a, b in zip(values, values[1:])]
    # a 3-check moving average: where the best lies once single-check noise is smoothed
    smooth = [statistics.fmean(values[max(0, i - 1):i + 2]) for i in range(len(values))]
    i_smooth = min(range(len(smooth)), key=smooth.__getitem__)
    row.update({
        "first_check": round(values[0], 4), "best_check": round(best, 4), "last_check": round(values[-1], 4),
        "best_check_step": checks[i_best]["step"],
        "best_passes": round(checks[i_best]["step"] * t["batch_size"] / p.n_train, 3),
        "plateau": 0 < i_best < len(values) - 1,  # best check neither the first nor the last
        "plateau_steps": [on_plateau[0], on_plateau[-1]],  # first and last check within PLATEAU_TOL of best
        "last_minus_best": round(values[-1] - best, 4),
        "smoothed_best_step": checks[i_smooth]["step"],
        # the check at three quarters of the run minus the last one: > 0 while still improving
        "last_quarter_drop": round(_value_at(checks, 0.75 * t["steps"]) - values[-1], 4),
        "max_jump": round(max(jumps), 4) if jumps else None,
        "train_loss_at_best": round(checks[i_best]["train_loss"], 4),
        "train_loss_last": round(checks[-1]["train_loss"], 4),
        "below_chance_test": round(CHANCE - res["cll_test"], 4) if res.get("cll_test") is not None else None,
    })
    return row


def _value_at(checks: list[dict], step: float) -> float:
    """The check nearest to ``step``."""
    return min(checks, key=lambda c: abs(c["step"] - step))["validation_cll_check"]


# ---------------------------------------------------------------- analyses

def seed_spread(rows: list[dict]) -> list[dict]:
    points: dict[tuple, list[dict]] = {}
    for r in rows:
        points.setdefault((r["shape"], r["n_train"], r["steps"]), []).append(r)
    out = []
    for (shape, d, steps), rs in points.items():
        tests = [r["cll_test"] for r in rs if r.get("cll_test") is not None]
        bests = [r["best_check"] for r in rs if r.get("best_check") is not None]
        if not tests:
            continue
        out.append({"shape": shape, "n_train": d, "steps": steps, "seeds": [r["seed"] for r in rs],
                    "cll_test": [round(v, 4) for v in tests], "mean": round(statistics.fmean(tests), 4),
                    "sd": round(statistics.stdev(tests), 4) if len(tests) > 1 else None,
                    "range": round(max(tests) - min(tests), 4),
                    "best_check_range": round(max(bests) - min(bests), 4) if bests else None,
                    "best_steps": [r.get("best_step") for r in rs]})
    return out


def check_size_comparison(rows: list[dict]) -> dict | None:
    by_pairs = {r["eval_pairs"]: r for r in rows if r.get("curve")}
    if len(by_pairs) < 2:
        return None
    (small, a), (large, b) = sorted(by_pairs.items())[:2]
    ca, cb = {c["step"]: c for c in a["curve"]}, {c["step"]: c for c in b["curve"]}
    common = sorted(set(ca) & set(cb))
    loss_diff = max(abs(ca[s]["train_loss"] - cb[s]["train_loss"]) for s in common)
    diffs = [ca[s]["check"] - cb[s]["check"] for s in common]  # the same model, two check sizes
    return {
        "eval_pairs": [small, large], "common_checks": len(common),
        "train_loss_max_abs_diff": round(loss_diff, 6), "trajectories_identical": loss_diff < 1e-6,
        "best_step": [a.get("best_step"), b.get("best_step")], "cll_test": [a.get("cll_test"), b.get("cll_test")],
        "best_check": [a.get("best_check"), b.get("best_check")],
        # what the small check says minus what the large one says about the same checkpoint
        "check_diff_mean": round(statistics.fmean(diffs), 4),
        "check_diff_sd": round(statistics.stdev(diffs), 4) if len(diffs) > 1 else None,
        "check_diff_max_abs": round(max(abs(x) for x in diffs), 4),
        # the large check's value at the step the small check chose, against its own best
        "large_check_at_small_best": cb.get(a.get("best_step"), {}).get("check"),
    }


# ---------------------------------------------------------------- printing

TABLE = [("shape", "shape", "{}"), ("N", "n_params", "{:,}"), ("D", "n_train", "{:,}"), ("seed", "seed", "{}"),
         ("steps", "steps", "{}"), ("passes", "passes", "{:.2f}"), ("lr", "learning_rate", "{:g}"),
         ("sched", "schedule", "{}"), ("pairs", "eval_pairs", "{}"), ("best@", "best_step", "{}"),
         ("best p", "best_passes", "{:.2f}"), ("plateau", "plateau", "{}"), ("on plateau", "plateau_steps", "{}"),
         ("first", "first_check", "{:.3f}"), ("best", "best_check", "{:.3f}"), ("last", "last_check", "{:.3f}"),
         ("q4 drop", "last_quarter_drop", "{:.3f}"), ("jump", "max_jump", "{:.2f}"),
         ("loss@best", "train_loss_at_best", "{:.3f}"), ("loss end", "train_loss_last", "{:.3f}"), ("test CLL", "cll_test", "{:.3f}"),
         ("s/step*", "s_per_step_under_load", "{:.3f}"), ("cpu s", "cpu_seconds", "{:.0f}")]


def _fmt(value, fmt: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return "-".join(str(v) for v in value)
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def print_table(title: str, rows: list[dict]) -> None:
    print(f"\n== {title}")
    cells = [[h for h, _, _ in TABLE]] + [[_fmt(r.get(k), f) for _, k, f in TABLE] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(TABLE))]
    for row in cells:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))


# ---------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    all_groups = list(pilots())
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--groups", nargs="+", default=[g for g in all_groups if g != "curves_large"],
                        choices=all_groups,
                        help="which pilots to train (in this order); the summary covers every group with runs")
    parser.add_argument("--summary-only", action="store_true", help="train nothing; summarise what is done")
    args = parser.parse_args()

    profile = load_profile(args.profile)
    data = ProcessedData(profile.processed_dir)
    base = dataclasses.asdict(profile.training)
    root = paths.outputs_dir("pilots") / profile.name
    runs_root = root / "runs"
    cpu_dir = root / "cpu_seconds"  # process CPU time of each run trained here (all threads), one file a run
    locks = root / "locks"  # a run being trained by another invocation of this script (two may run at once)

    def cpu_seconds(run_id: str) -> float | None:
        path = cpu_dir / f"{run_id}.json"
        return read_json(path)["cpu_seconds"] if path.is_file() else None

    def lock(run_id: str) -> bool:
        locks.mkdir(parents=True, exist_ok=True)
        path = locks / f"{run_id}.lock"
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                os.kill(int(path.read_text() or 0), 0)
                return False  # its owner is alive
            except (ProcessLookupError, ValueError):
                path.unlink(missing_ok=True)  # a stale lock: its owner died
                return lock(run_id)
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return True

    def spec_of(p: Pilot) -> RunSpec:
        return RunSpec(profile=profile.name, dataset=profile.dataset, data_key=data.manifest["key"],
                       annotation="human", model={"layers": p.layers, "hidden": p.hidden}, n_train=p.n_train,
                       seed=p.seed, training=p.training(base))

    groups = pilots()
    if not args.summary_only:
        for name in args.groups:
            for p in groups[name]:
                spec = spec_of(p)
                print(f"[{name}] {p.label}: {spec.run_id}", flush=True)
                if (runs_root / spec.run_id / RESULT_FILE).is_file():
                    continue
                if not lock(spec.run_id):
                    print("  -> being trained by another invocation: skipped here", flush=True)
                    continue
                try:
                    c0 = time.process_time()
                    record = execute_run(spec, runs_root, sweeps=("pilot",))
                    if not record.get("skipped"):
                        write_json(cpu_dir / f"{spec.run_id}.json",
                                   {"cpu_seconds": round(time.process_time() - c0, 1)})
                finally:
                    (locks / f"{spec.run_id}.lock").unlink(missing_ok=True)
                if record["status"] != "ok":
                    print(f"  -> status {record['status']}: {record.get('error', {}).get('message', '')}")

    summary = {"profile": profile.name, "base_training": base, "common": COMMON, "chance": CHANCE,
               "plateau_tol": PLATEAU_TOL, "data_key": data.manifest["key"],
               "note": "seconds (train_seconds, s_per_step_under_load, wall_seconds) were measured on a 2-core "
                       "machine shared with other jobs: inflated; the curves do not depend on the load",
               "groups": {}}
    for name, ps in groups.items():
        rows = []
        for p in ps:
            spec = spec_of(p)
            run_dir = runs_root / spec.run_id
            if not (run_dir / RESULT_FILE).is_file():
                continue
            rows.append(summarise(p, spec, run_dir, read_json(run_dir / RESULT_FILE), cpu_seconds(spec.run_id)))
        if not rows:
            continue
        group = {"runs": rows}
        if name == "seeds":
            group["spread"] = seed_spread(rows)
        if name == "check_size":
            group["comparison"] = check_size_comparison(rows)
        summary["groups"][name] = group
        print_table(f"{name} (* s/step: train_seconds / steps, checks included, wall clock measured under "
                    f"load; cpu s: the run's process CPU time, final evaluation included)", rows)
        for extra in ("spread", "comparison"):
            if extra in group:
                print(json.dumps(group[extra], indent=1))
    done = list({r["run_id"]: r for g in summary["groups"].values() for r in g["runs"]}.values())  # shared once
    summary["totals"] = {
        "runs": len(done),
        "train_seconds": round(sum(r["train_seconds"] or 0 for r in done), 1),
        "wall_seconds": round(sum(r["wall_seconds"] or 0 for r in done), 1),
        "cpu_seconds_recorded": round(sum(r["cpu_seconds"] or 0 for r in done), 1),
    }
    print("\ntotals:", json.dumps(summary["totals"]))
    write_json(root / "pilots.json", summary)
    print(f"wrote {root / 'pilots.json'}")


if __name__ == "__main__":
    main()
