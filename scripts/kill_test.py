"""Kill test: `make reproduce PROFILE=smoke`, killed anywhere and restarted, loses nothing.

1. The study runs once, uninterrupted, into its own temporary DRSCALING_DATA and
   DRSCALING_OUTPUTS: the reference. Its stage timings are measured as it runs.
2. In a fresh pair of folders the study is started (make in its own process group), killed
   with SIGKILL at a chosen moment, restarted, killed again, ... until it completes. The kill
   moments come from the reference's stage timings, so that kills land in data preparation,
   training, checkpoint writes, evaluation and fitting; some come right after a restart, some
   right after a stage wrote its output file. Every kill is classified by what was running.
3. results.csv, fits.json and budget.json of the killed study must equal the reference's
   (timing and provenance fields aside; numbers within 1e-9 relative), and so must every
   other data file of the outputs and of the prepared data (json, jsonl, csv, npy,
   safetensors); every file of the reference must exist. Exit 1 with the differences
   otherwise, or if fewer kills landed than asked.

A kill stops make's process group and the notebook's kernel, which jupyter_client starts in a
session of its own (left alone, it would go on for up to a second after its parent died).

The study runs on a copy of the code (Makefile, configs, lib, notebooks) taken at the start,
so that edits made meanwhile cannot differ between the reference and the killed study, with
the existing virtual environment (never rebuilt: make is told the venv is up to date).

    .venv/bin/python scripts/kill_test.py [--kills 20] [--seed 0] [--keep] [--tmp DIR] [--timeout S]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ["01_prepare_data", "02_train_grid", "03_evaluate", "04_annotation_quality", "05_fit_scaling_laws",
          "06_budget_allocation"]
TRAINING_STAGES = ("02_train_grid", "04_annotation_quality")  # stages whose runs resume from a saved state
COMPARED = ["results.csv", "fits.json", "budget.json"]  # the study's answers, compared first
# A column or key is timing or provenance (not compared) if its last word is one of these
# (wall_seconds, train_seconds, started, host, ...) or its first word is "provenance".
TIMING_WORDS = ("seconds", "time", "timestamp", "duration", "started", "finished", "created", "host")
REL_TOL = 1e-9
CODE = ["Makefile", "pyproject.toml", "requirements.txt", "configs", "lib", "notebooks"]
POLL = 0.1  # seconds between looks at the running study


# ---------------------------------------------------------------- processes

def processes() -> dict[int, tuple[int, int, str]]:
    """{pid: (ppid, process group, state)} of every process visible in /proc."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # the command name may hold spaces
        out[int(name)] = (int(fields[1]), int(fields[2]), fields[0])
    return out


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descendants(root: int) -> list[int]:
    """Every process below ``root``, by parent links: the notebook's kernel too, which
    jupyter_client starts in a session of its own (outside make's process group)."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in processes().items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def has_tag(pid: int, tag: str) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return tag.encode() in f.read()
    except OSError:
        return False


def tagged(tag: str) -> list[int]:
    """Live processes whose environment carries ``tag``: those this script started."""
    return [pid for pid, (_, _, state) in processes().items() if state != "Z" and has_tag(pid, tag)]


# ---------------------------------------------------------------- one study (a pair of folders)

class Study:
    """`make reproduce` for one DRSCALING_DATA / DRSCALING_OUTPUTS pair, started and killed."""

    def __init__(self, name: str, work: Path, code: Path, venv: Path, profile: str, dataset: str, makefile: Path):
        self.name, self.profile = name, profile
        self.data, self.outputs = work / name / "data", work / name / "outputs"
        self.out = self.outputs / profile
        self.log_path = work / name / "make.log"
        self.tag = f"DRSCALING_KILL_TEST={name}-{os.getpid()}-{time.time_ns()}"
        self.targets = {
            "01_prepare_data": self.data / "processed" / dataset / "manifest.json",
            "02_train_grid": self.out / "runs" / "grid.json",
            "03_evaluate": self.out / "results.csv",
            "04_annotation_quality": self.out / "annotation.json",
            "05_fit_scaling_laws": self.out / "fits.json",
            "06_budget_allocation": self.out / "budget.json",
        }
        stamp = venv / ".drscaling-installed"
        # -o: the venv counts as up to date, and nothing is rerun because of it
        self.command = ["make", "-C", str(code), "-f", str(makefile), "-o", str(stamp), "reproduce",
                        f"PROFILE={profile}", f"VENV={venv}"]
        self.env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
        key, value = self.tag.split("=", 1)
        self.env.update({"DRSCALING_DATA": str(self.data), "DRSCALING_OUTPUTS": str(self.outputs),
                         "PYTHONPATH": str(code / "lib"), key: value})
        self.proc: subprocess.Popen | None = None
        self.started = 0.0
        self.family: list[int] = []  # the last seen processes below make
        self.starts = 0

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "a")
        self.starts += 1
        log.write(f"\n===== start {self.starts}\n")
        log.flush()
        # its own process group, so that one killpg reaches make and the notebook runner
        self.proc = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                     start_new_session=True)
        log.close()
        self.started = time.time()
        self.family = []

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def look(self) -> tuple[str | None, bool]:
        """(the notebook being run or None, whether its kernel is up); remembers the family."""
        if not self.running():
            return None, False
        self.family = descendants(self.proc.pid)
        stage, kernel = None, False
        for pid in self.family:
            cmd = cmdline(pid)
            if "run-notebook" in cmd:
                words = cmd.split()
                stage = words[words.index("run-notebook") + 1]
            elif "ipykernel" in cmd:
                kernel = True
        return stage, kernel

    def kill(self) -> int:
        """SIGKILL make's process group and the kernel (it is in a session of its own and would
        otherwise go on for up to a second); return how many processes outside the group died."""
        pgid = self.proc.pid
        outside = [p for p in self.family if _pgid(p) not in (pgid, None) and has_tag(p, self.tag)]
        for pid in outside:  # the kernel runs the notebook's code: stop it in the same instant
            _kill(pid)
        os.killpg(pgid, signal.SIGKILL)
        self.proc.wait()
        # a kernel started since the last look: found by the tag in its environment
        late = tagged(self.tag)
        for pid in late:
            _kill(pid)
        deadline = time.time() + 10
        while tagged(self.tag) and time.time() < deadline:
            time.sleep(0.02)
        return len(outside) + len(late)

    def wait(self) -> int:
        return self.proc.wait()

    def runs_done(self) -> int:
        return len(list((self.out / "runs").glob("*/result.json")))

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace").splitlines() if self.log_path.is_file() else []
        return "\n".join(text[-lines:])


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


# ---------------------------------------------------------------- the reference run

def run_reference(study: Study) -> dict:
    """Run the study uninterrupted; return when each stage ran and how many runs each trained."""
    print(f"reference: make reproduce PROFILE={study.profile} into {study.data.parent}", flush=True)
    study.start()
    first, last, runs_after = {}, {}, {}
    previous = None
    while study.running():
        stage, _ = study.look()
        now = time.time() - study.started
        if stage:
            first.setdefault(stage, now)
            last[stage] = now
            if stage != previous:
                print(f"  {now:6.1f} s  {stage}", flush=True)
        if previous in TRAINING_STAGES and stage != previous:
            runs_after[previous] = study.runs_done()
        previous = stage
        time.sleep(POLL)
    rc = study.wait()
    total = time.time() - study.started
    if rc != 0:
        sys.exit(f"the reference run failed (make exit {rc}); its log (kept with --keep) ends:\n{study.log_tail()}")
    for stage in TRAINING_STAGES:
        runs_after.setdefault(stage, study.runs_done())
    durations = {s: max(POLL, last[s] - first[s]) for s in first}
    print(f"reference complete in {total:.0f} s; stage seconds: "
          + ", ".join(f"{s[:2]} {d:.0f}" for s, d in durations.items()), flush=True)
    return {"durations": durations, "runs_after": runs_after, "total": total}


# ---------------------------------------------------------------- kills

def make_plan(n: int, rng: random.Random) -> list[tuple[str, str]]:
    """``n`` kill targets (kind, stage) in stage order. Kinds: ``stage`` (a random moment of
    the stage), ``checkpoint`` (while a run's state/ folder is being written), ``output``
    (just after the stage wrote its output file, before its notebook ends), ``startup`` (a
    moment right after a restart, wherever make is then)."""
    base = [("stage", "01_prepare_data"), ("output", "01_prepare_data"),
            ("stage", "02_train_grid"), ("checkpoint", "02_train_grid"), ("stage", "02_train_grid"),
            ("checkpoint", "02_train_grid"), ("output", "02_train_grid"),
            ("stage", "03_evaluate"), ("output", "03_evaluate"),
            ("stage", "04_annotation_quality"), ("checkpoint", "04_annotation_quality"),
            ("stage", "04_annotation_quality"),
            ("stage", "05_fit_scaling_laws"), ("output", "05_fit_scaling_laws"),
            ("stage", "06_budget_allocation"), ("output", "06_budget_allocation")]
    n_startup = round(n / 5)
    n_other = n - n_startup
    # n_other targets spread evenly over the base list (repeating it if n is large)
    picked = [base[int(i * len(base) / n_other)] for i in range(n_other)] if n_other else []
    picked.sort(key=lambda t: STAGES.index(t[1]))
    # startup kills go anywhere but after the last target: a kill after the last stage's
    # output may be the study's end
    for _ in range(n_startup):
        picked.insert(rng.randrange(max(1, len(picked))), ("startup", ""))
    return picked


def expected_seconds(stage: str, study: Study, ref: dict) -> float:
    """How long the stage should still take: its reference duration, less the share of its
    runs already done for the stages whose runs resume."""
    seconds = ref["durations"].get(stage, 5.0)
    if stage in TRAINING_STAGES:
        before = ref["runs_after"]["02_train_grid"] if stage == "04_annotation_quality" else 0
        total = ref["runs_after"][stage] - before
        done = min(max(study.runs_done() - before, 0), total)
        seconds *= max(0.1, 1 - done / max(total, 1))
    return seconds


def fresh(path: Path, since: float) -> bool:
    try:
        return path.stat().st_mtime >= since
    except OSError:
        return False


def pending_runs(study: Study) -> list[Path]:
    return [r for r in (study.out / "runs").glob("*/") if not (r / "result.json").exists()]


def writing_state(runs: list[Path], since: float) -> bool:
    """Whether one of ``runs`` is writing its resumable state now (state.tmp or state.old made
    since ``since``)."""
    return any(fresh(run / "state.tmp", since) or fresh(run / "state.old", since) for run in runs)


def kill_once(study: Study, plan: list[tuple[str, str]], ref: dict, rng: random.Random) -> dict | None:
    """Start the study and kill it at the next target of ``plan`` (removed from it): the first
    target of the stage that runs, else the first target of a stage already past (aimed at the
    stage that runs); a stage with neither runs through. None if the study completed first."""
    study.start()
    attempt_start = study.started
    kind, stage = plan[0]
    if kind == "startup":
        plan.pop(0)
        deadline = attempt_start + rng.uniform(0.05, 2.0)
        while time.time() < deadline and study.running():
            study.look()
            time.sleep(min(POLL, max(0.0, deadline - time.time())))
    else:
        mine: list[tuple[str, str]] = []
        while study.running():  # until a stage with a target runs
            current, _ = study.look()
            if current in STAGES:
                mine = [t for t in plan if t[1] == current] or \
                       [t for t in plan if t[1] in STAGES and STAGES.index(t[1]) < STAGES.index(current)]
                if mine:
                    break
            time.sleep(POLL)
        if not study.running():
            return None
        kind, stage = plan.pop(plan.index(mine[0]))
        if stage != current:
            kind = kind if kind == "checkpoint" and current in TRAINING_STAGES else "stage"
            stage = current
        stage_start = time.time()
        budget = expected_seconds(stage, study, ref)
        # every wait ends when the stage does: a kill never lets the next stage run through
        if kind == "stage":
            deadline = stage_start + rng.uniform(0.05, 0.5) * budget
            while time.time() < deadline and study.running() and study.look()[0] == stage:
                time.sleep(min(POLL, max(0.0, deadline - time.time())))
        elif kind == "checkpoint":
            # a state write takes milliseconds: look often, and kill the moment one is seen
            deadline, next_look, runs = stage_start + budget * 1.5, 0.0, []
            while time.time() < deadline and study.running() and not writing_state(runs, attempt_start):
                if time.time() > next_look:
                    if study.look()[0] != stage:
                        break
                    runs, next_look = pending_runs(study), time.time() + POLL
                time.sleep(0.001)
        elif kind == "output":
            deadline = stage_start + budget * 1.5
            while time.time() < deadline and study.running() and not fresh(study.targets[stage], stage_start) \
                    and study.look()[0] == stage:
                time.sleep(0.02)
            pause = time.time() + rng.uniform(0.0, 0.3)
            while time.time() < pause and study.running():
                time.sleep(0.01)
    if not study.running():
        return None
    at = time.time() - attempt_start
    stage_now, kernel = study.look()
    outside = study.kill()
    return {"target": f"{kind} {stage}".strip(), "after_restart": at,
            "where": classify(study, stage_now, kernel, attempt_start), "outside_group": outside}


def classify(study: Study, stage: str | None, kernel: bool, attempt_start: float) -> str:
    """Where a kill landed, from what ran and what the files say (read after the kill)."""
    if stage is None:
        return "make (startup or between stages)"
    if fresh(study.out / "notebooks" / f"{stage}.ipynb", attempt_start):
        return f"{stage}: finishing (its notebook done)"
    if not kernel:
        return f"{stage}: starting (no kernel yet)"
    if fresh(study.targets[stage], attempt_start):
        return f"{stage}: after its output was written"
    if stage in TRAINING_STAGES:
        pending = pending_runs(study)
        if writing_state(pending, attempt_start):
            return f"{stage}: checkpoint write (state/)"
        for run in pending:
            try:
                state = json.loads((run / "state" / "state.json").read_text())
                steps = json.loads((run / "spec.json").read_text())["spec"]["training"]["steps"]
            except (OSError, ValueError, KeyError):
                continue
            if state.get("step") == steps or state.get("status") != "running":
                return f"{stage}: a run's final evaluation"
        if not pending:
            return f"{stage}: between runs"
        return f"{stage}: training"
    if stage == "01_prepare_data":
        parent = study.targets[stage].parent.parent
        if any(fresh(p, attempt_start) for p in parent.glob(".*")):
            return f"{stage}: writing the processed folder"
    return stage


# ---------------------------------------------------------------- comparison

def timing_or_provenance(name: str) -> bool:
    words = re.split(r"[^a-z0-9]+", name.lower())  # "provenance.torch" -> provenance, torch
    return words[0] == "provenance" or words[-1] in TIMING_WORDS


def same(a, b) -> bool:
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or abs(a - b) <= REL_TOL * max(abs(a), abs(b))
    return a == b


def diff_json(a, b, where: str, out: list[str], ignored: set[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if timing_or_provenance(key):
                ignored.add(key)
            elif key not in b:
                out.append(f"{where}.{key}: missing in the killed study")
            elif key not in a:
                out.append(f"{where}.{key}: only in the killed study")
            else:
                diff_json(a[key], b[key], f"{where}.{key}", out, ignored)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{where}: {len(a)} items in the reference, {len(b)} in the killed study")
        for i, (x, y) in enumerate(zip(a, b)):
            diff_json(x, y, f"{where}[{i}]", out, ignored)
    elif not same(a, b):
        out.append(f"{where}: reference {a!r}, killed study {b!r}")


def cell(text: str):
    try:
        return float(text)
    except ValueError:
        return text


def diff_csv(a: Path, b: Path, where: str, out: list[str], ignored: set[str]) -> None:
    rows = []
    for path in (a, b):
        with open(path, newline="") as f:
            rows.append(list(csv.DictReader(f)))
    ref, got = rows
    ref_columns, got_columns = (ref[0] if ref else {}), (got[0] if got else {})
    columns = [c for c in ref_columns if not timing_or_provenance(c)]
    ignored.update(c for c in ref_columns if timing_or_provenance(c))
    extra = sorted(c for c in got_columns if c not in ref_columns and not timing_or_provenance(c))
    if extra:
        out.append(f"{where}: columns only in the killed study: {extra}")
    if len(ref) != len(got):
        out.append(f"{where}: {len(ref)} rows in the reference, {len(got)} in the killed study")
    key = "run_id" if ref and "run_id" in ref[0] else None
    by_key = {r[key]: r for r in got} if key else dict(enumerate(got))
    for i, row in enumerate(ref):
        k = row[key] if key else i
        other = by_key.get(k)
        if other is None:
            out.append(f"{where}: row {k} missing in the killed study")
            continue
        for c in columns:
            if c not in other:
                out.append(f"{where}: column {c} missing in the killed study")
                return
            if not same(cell(row[c]), cell(other[c])):
                out.append(f"{where} [{k}] {c}: reference {row[c]!r}, killed study {other[c]!r}")


def diff_file(a: Path, b: Path, where: str, out: list[str], ignored: set[str]) -> None:
    """Compare one data file by its kind; other files need only exist."""
    if a.suffix == ".json":
        diff_json(json.loads(a.read_text()), json.loads(b.read_text()), where, out, ignored)
    elif a.suffix == ".jsonl":
        lines = [[json.loads(x) for x in p.read_text().splitlines() if x.strip()] for p in (a, b)]
        diff_json(lines[0], lines[1], where, out, ignored)
    elif a.suffix == ".csv":
        diff_csv(a, b, where, out, ignored)
    elif a.suffix == ".npy":
        import numpy as np

        x, y = np.load(a), np.load(b)
        if x.shape != y.shape:
            out.append(f"{where}: shapes differ: {x.shape} in the reference, {y.shape} in the killed study")
        elif not np.allclose(x, y, rtol=REL_TOL, atol=0, equal_nan=True):
            out.append(f"{where}: arrays differ (largest difference {np.nanmax(np.abs(x - y))})")
    elif a.suffix == ".safetensors":
        if a.read_bytes() != b.read_bytes():
            out.append(f"{where}: weights differ")


def files_of(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else set()


def compare(ref: Study, got: Study) -> tuple[dict[str, list[str]], list[str], set[str]]:
    """({file: its differences}, files left over in the killed study, names ignored as
    timing/provenance). The three answers come first, then lost files, then the others."""
    found: dict[str, list[str]] = {}
    ignored: set[str] = set()

    def check(a: Path, b: Path, where: str) -> None:
        out: list[str] = []
        diff_file(a, b, where, out, ignored)
        if out:
            found[where] = out

    for name in COMPARED:
        if not (ref.out / name).is_file() or not (got.out / name).is_file():
            found[name] = [f"{name}: missing in the {'killed study' if (ref.out / name).is_file() else 'reference'}"]
        else:
            check(ref.out / name, got.out / name, name)
    leftovers, lost, pairs = [], [], []
    # the prepared data first: a difference there explains those downstream
    trees = (("data", ref.data / "processed", got.data / "processed"), ("outputs", ref.out, got.out))
    for label, a_dir, b_dir in trees:
        a_files, b_files = files_of(a_dir), files_of(b_dir)
        lost += [f"{label}/{rel}: missing in the killed study (lost)" for rel in sorted(a_files - b_files)]
        leftovers += [f"{label}/{rel}" for rel in sorted(b_files - a_files)]
        pairs += [(a_dir / rel, b_dir / rel, f"{label}/{rel}") for rel in sorted(a_files & b_files)
                  if not (label == "outputs" and rel in COMPARED)]
    if lost:
        found["lost files"] = lost
    for a, b, where in pairs:
        check(a, b, where)
    return found, leftovers, ignored


# ---------------------------------------------------------------- main

def snapshot_code(dest: Path) -> None:
    """Copy what `make reproduce` reads, keeping modification times."""
    dest.mkdir(parents=True)
    for name in CODE:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        else:
            shutil.copy2(src, dest / name)


def table(kills: list[dict]) -> str:
    counts: dict[str, int] = {}
    for k in kills:
        counts[k["where"]] = counts.get(k["where"], 0) + 1

    def order(place: str):
        stage = place.split(":")[0]
        return (STAGES.index(stage) if stage in STAGES else -1, place)

    width = max([len(p) for p in counts] + [24])
    lines = [f"  {'where the kill landed':<{width}}  kills"]
    lines += [f"  {p:<{width}}  {counts[p]:5d}" for p in sorted(counts, key=order)]
    lines.append(f"  {'total':<{width}}  {len(kills):5d}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20, help="kill points to achieve (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments (default %(default)s)")
    parser.add_argument("--profile", default="smoke", help="the profile to run (default %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders for inspection")
    parser.add_argument("--tmp", type=Path, default=None, help="where to make the temporary folder")
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv", help="the existing virtual environment")
    parser.add_argument("--makefile", type=Path, default=None,
                        help="another Makefile to run (e.g. a proposed fix); default: the project's")
    parser.add_argument("--timeout", type=int, default=0, help="give up after this many seconds (0: never)")
    args = parser.parse_args(argv)

    def give_up(signum, frame):  # SIGTERM or the alarm: leave through `finally`, which stops the study
        raise SystemExit(f"kill test stopped ({'time out' if signum == signal.SIGALRM else 'terminated'})")

    signal.signal(signal.SIGTERM, give_up)
    signal.signal(signal.SIGALRM, give_up)
    signal.alarm(max(0, args.timeout))

    venv = args.venv.resolve()
    if not (venv / ".drscaling-installed").is_file():
        print(f"error: no virtual environment at {venv} (run `make venv` first)", file=sys.stderr)
        return 2
    import yaml

    dataset = yaml.safe_load((ROOT / "configs" / f"{args.profile}.yaml").read_text())["dataset"]
    rng = random.Random(args.seed)
    started = time.time()
    work = Path(tempfile.mkdtemp(prefix="kill_test.", dir=args.tmp))
    ref = got = None
    # the shared raw datasets, as the checkout finds them (the copy lives elsewhere)
    os.environ.setdefault("DRSCALING_DATASETS", str(ROOT.parent / "shared" / "datasets"))
    try:
        code = work / "code"
        snapshot_code(code)
        makefile = (args.makefile or code / "Makefile").resolve()
        ref = Study("reference", work, code, venv, args.profile, dataset, makefile)
        got = Study("killed", work, code, venv, args.profile, dataset, makefile)
        reference = run_reference(ref)

        plan = make_plan(args.kills, rng)
        print(f"killed study: {len(plan)} kills planned (seed {args.seed}), into {got.data.parent}", flush=True)
        kills: list[dict] = []
        ended = False
        n_planned = len(plan)
        while plan:
            record = kill_once(got, plan, reference, rng)
            if record is None:  # it ended before this kill
                ended = True
                break
            kills.append(record)
            extra = f" (+{record['outside_group']} kernel process(es) outside make's group)" \
                if record["outside_group"] else ""
            print(f"  kill {len(kills):2d}/{n_planned}  aimed at {record['target']:<32s} "
                  f"{record['after_restart']:6.1f} s after restart: {record['where']}{extra}", flush=True)
        if not ended:
            print("  last restart: running to the end", flush=True)
            got.start()
        rc = got.wait()
        if rc != 0:
            print(f"FAIL: the killed study did not complete after its last restart (make exit {rc}); "
                  f"its log (kept with --keep) ends:\n{got.log_tail()}", flush=True)
            return 1

        print(f"\nkill points: {len(kills)} achieved, {args.kills} asked; {got.starts} starts of make")
        print(table(kills))
        differences, leftovers, ignored = compare(ref, got)
        print(f"not compared (timing, provenance): {', '.join(sorted(ignored)) or 'none'}")
        if leftovers:
            print(f"left over in the killed study ({len(leftovers)} files, not in the reference):")
            for rel in leftovers[:30]:
                print(f"  {rel}")
        failed = False
        if differences:
            failed = True
            print(f"\nFAIL: the killed-and-restarted study differs from the reference in {len(differences)} files:")
            for lines in list(differences.values())[:25]:  # a few lines per file
                for line in lines[:6]:
                    print(f"  {line}")
                if len(lines) > 6:
                    print(f"    ... {len(lines) - 6} more in this file")
            if len(differences) > 25:
                print(f"  ... {len(differences) - 25} more files differ")
        else:
            print(f"\n{', '.join(COMPARED)} and every other data file equal the reference's")
        if len(kills) < args.kills:
            failed = True
            print(f"FAIL: only {len(kills)} kill points landed, {args.kills} asked")
        print(f"kill test {'FAILED' if failed else 'passed'} in {time.time() - started:.0f} s"
              + (f"; folders kept in {work}" if args.keep else ""), flush=True)
        return 1 if failed else 0
    finally:
        for study in (ref, got):  # interrupted: leave nothing running
            if study is not None and study.running():
                study.kill()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
