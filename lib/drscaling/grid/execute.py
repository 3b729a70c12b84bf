"""Execution: one run in its folder (resumable, recorded, its failure written down), and the
executors that run a plan locally (one or several workers) or on Ray."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Iterable

from ..config import ConfigError, Profile
from ..fileio import read_json, write_json
from ..provenance import provenance
from .spec import (
    DONE_STATUSES, ENV_VARS, ERROR_FILE, FAILED, FAIL_ENV, FORMAT_VERSION, InjectedFailure, PlannedRun, RESULT_FILE,
    RunFn, RunFolderError, RunSpec, SPEC_FILE, _as_planned, _now, init_run, is_done, runs_dir,
)


def _default_run_fn() -> RunFn:
    from ..train import train_and_evaluate  # lazily: the grid works without the trainer

    return train_and_evaluate


def _jsonable(obj):
    """Plain JSON types (numpy scalars and arrays, paths -> their values)."""
    def default(o):
        if hasattr(o, "item") and callable(o.item) and getattr(o, "shape", None) == ():
            return o.item()
        if hasattr(o, "tolist"):
            return o.tolist()
        if isinstance(o, Path):
            return str(o)
        raise TypeError(f"not JSON serialisable: {type(o).__name__} {o!r}")

    return json.loads(json.dumps(obj, default=default))


def check_spec_file(spec: RunSpec, run_dir: Path) -> None:
    """Raise :class:`RunFolderError` if ``run_dir/spec.json`` holds another spec."""
    path = Path(run_dir) / SPEC_FILE
    if path.is_file():
        stored = read_json(path).get("spec")
        if stored != spec.to_dict():
            raise RunFolderError(f"{path} holds another spec than run {spec.run_id}:\n  stored: "
                                 f"{json.dumps(stored, sort_keys=True)}\n  wanted: {json.dumps(spec.to_dict(), sort_keys=True)}")


def _write_spec_file(spec: RunSpec, run_dir: Path, sweeps: tuple[str, ...]) -> None:
    path = run_dir / SPEC_FILE
    check_spec_file(spec, run_dir)
    old = read_json(path) if path.is_file() else None
    if old is None or old.get("sweeps") != list(sweeps):
        write_json(path, {"run_id": spec.run_id, "spec": spec.to_dict(), "sweeps": list(sweeps),
                          "created": (old or {}).get("created", _now())})


def _skipped(run_dir: Path) -> dict:
    stale = run_dir / ERROR_FILE
    if stale.is_file():  # a crash between result.json and the clean-up
        stale.unlink()
    return {**read_json(run_dir / RESULT_FILE), "skipped": True, "run_dir": str(run_dir)}


def _error_record(spec: RunSpec, sweeps, exc: BaseException, tb: str, where: str, started: str,
                  seconds: float | None) -> dict:
    cause = getattr(exc, "cause", None)  # a Ray task error wraps the task's own exception
    return {
        "format": FORMAT_VERSION,
        "run_id": spec.run_id,
        "status": FAILED,
        "spec": spec.to_dict(),
        "sweeps": list(sweeps),
        "error": {"type": type(cause if isinstance(cause, BaseException) else exc).__name__,
                  "message": str(exc), "traceback": tb},
        "where": where,
        "wall_seconds": None if seconds is None else round(seconds, 3),
        "host": socket.gethostname(),
        "provenance": provenance(),
        "started": started,
        "time": _now(),
    }


def execute_run(spec: RunSpec, runs_dir: Path, run_fn: RunFn | None = None, sweeps: Iterable[str] = ()) -> dict:
    """Run one spec in ``runs_dir/<run_id>/`` unless it is done; never raises for a failed run.

    Returns the result.json record (plus ``skipped`` and ``run_dir``); after a failure, the
    error.json record (status ``failed``). ``run_fn(spec, run_dir) -> dict`` is the trainer's
    ``train_and_evaluate`` unless given; its dict must have a ``status`` in DONE_STATUSES.
    Exceptions become error.json; a BaseException (KeyboardInterrupt) propagates and leaves
    the folder without result.json or error.json: the run is simply still pending.
    """
    sweeps = tuple(sweeps)
    run_dir = Path(runs_dir) / spec.run_id
    if is_done(run_dir):
        # tagged as this plan tags it: a run kept from an older plan (another joint grid) would
        # otherwise carry that plan's sweeps into grid.json; its result.json stays as it ran
        return {**_skipped(run_dir), "sweeps": list(sweeps)}
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_spec_file(spec, run_dir, sweeps)
    started, t0 = _now(), time.time()
    try:
        if spec.run_id in os.environ.get(FAIL_ENV, "").split(","):
            raise InjectedFailure(f"failed on purpose: the run id is in {FAIL_ENV}")
        fn = run_fn if run_fn is not None else _default_run_fn()
        result = fn(spec, run_dir)
        if not isinstance(result, dict) or result.get("status") not in DONE_STATUSES:
            got = result.get("status") if isinstance(result, dict) else type(result).__name__
            raise ValueError(f"the run function returned no valid status: expected a dict with status in "
                             f"{DONE_STATUSES}, got {got!r}")
        record = _jsonable({
            "format": FORMAT_VERSION,
            "run_id": spec.run_id,
            "status": result["status"],
            "spec": spec.to_dict(),
            "sweeps": list(sweeps),
            "result": result,
            "wall_seconds": round(time.time() - t0, 3),
            "host": socket.gethostname(),
            "provenance": provenance(),
            "started": started,
            "finished": _now(),
        })
        write_json(run_dir / RESULT_FILE, record)  # last, atomically: its presence means done
    except Exception as e:
        record = _error_record(spec, sweeps, e, traceback.format_exc(), "worker", started, time.time() - t0)
        write_json(run_dir / ERROR_FILE, record)
        return {**record, "skipped": False, "run_dir": str(run_dir)}
    (run_dir / ERROR_FILE).unlink(missing_ok=True)  # a retry that succeeded
    return {**record, "skipped": False, "run_dir": str(run_dir)}


# ---------------------------------------------------------------- executors

class GridProgress:
    """One tqdm bar over the runs; postfix: the current (or last finished) run and the counts
    so far: ok, failed, skipped, and the trainer's other outcomes (not_learning, nan_loss).
    With ``estimates`` (run id -> estimated seconds on this machine, drscaling.wall_estimate): the
    runs left and an ETA, the estimated seconds of the runs not yet finished over ``workers``
    (at least the longest of them), updated as runs finish. Each run that finishes in this call
    also prints one line (done, left, ETA): in a notebook run by papermill the bar is a widget
    that the terminal of ``make reproduce`` never sees, but printed lines reach it."""

    def __init__(self, total: int, desc: str, enabled: bool, estimates: dict[str, float] | None = None,
                 workers: int = 1, run_ids: Iterable[str] = ()):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=desc, unit="run", disable=not enabled)
        self.counts = {"ok": 0, FAILED: 0, "skipped": 0}
        self.estimates, self.workers = estimates, max(1, workers)
        self.left = set(run_ids)
        self.last = ""
        self.enabled, self.total, self.finished, self.started = enabled, total, 0, time.time()

    def eta_seconds(self) -> float | None:
        """Estimated seconds until the runs left are done; None without estimates."""
        if self.estimates is None:
            return None
        left = [self.estimates.get(r, 0.0) for r in self.left]
        return max(sum(left) / self.workers, max(left, default=0.0))

    def _postfix(self) -> dict:
        postfix = {"run": self.last, **self.counts}
        eta = self.eta_seconds()
        if eta is not None:
            postfix.update(left=len(self.left), eta=time.strftime("%H:%M", time.localtime(time.time() + eta)),
                           eta_min=round(eta / 60, 1))
        return postfix

    def current(self, run_id: str):
        self.last = run_id
        self.bar.set_postfix(self._postfix())

    def done(self, record: dict):
        key = "skipped" if record.get("skipped") else record["status"]
        self.counts[key] = self.counts.get(key, 0) + 1
        self.left.discard(record["run_id"])
        self.last = record["run_id"]
        self.finished += 1
        self.bar.set_postfix(self._postfix())
        self.bar.update(1)
        if self.enabled and not record.get("skipped"):
            print(self.line(record), flush=True)

    def line(self, record: dict) -> str:
        """``[12/90] ok human-L1-H64-D80000-s0-... (412 s); 78 left, ETA 05:41 (62 min), 31 min so far``"""
        text = f"[{self.finished}/{self.total}] {record['status']} {record['run_id']}"
        if record.get("wall_seconds") is not None:
            text += f" ({record['wall_seconds']:.0f} s)"
        eta = self.eta_seconds()
        if eta is not None:
            text += (f"; {len(self.left)} left, ETA {time.strftime('%H:%M', time.localtime(time.time() + eta))} "
                     f"({eta / 60:.0f} min)")
        return text + f", {(time.time() - self.started) / 60:.0f} min so far"

    def close(self):
        self.bar.close()


def run_grid(profile: Profile, planned: Iterable[PlannedRun | RunSpec], executor: str | None = None,
             run_fn: RunFn | None = None, ray_address: str | None = None, gpus_per_run: float | None = None,
             cpus_per_run: float | None = None, progress: bool = True, max_retries: int = 0,
             estimates: dict[str, float] | None = None) -> list[dict]:
    """Run every planned run that is not done; return one record per run, in plan order
    (see :func:`execute_run`; ``skipped`` marks runs done before this call).

    ``executor`` (default: the profile's ``grid.executor``): ``local`` runs them one after the
    other, or ``grid.workers`` at a time in as many processes (``run_fn`` must then be picklable:
    a module-level function); ``ray`` submits each pending run as a Ray task, on the cluster at ``ray_address``
    (default: the profile's ``grid.ray_address``; e.g. "auto", "ray://host:10001"), on the
    one this process is already connected to, or else on a local cluster that this call starts
    and stops. A task asks for ``gpus_per_run`` GPUs (default: the profile's) where the cluster
    has GPUs, and ``cpus_per_run`` CPUs (default: 1 with GPUs, else the run's
    ``training.threads`` or, for 0 = all cores, one node's CPUs). A task whose worker dies is
    recorded as failed by the driver; ``max_retries`` lets Ray retry it first. ``estimates``
    (run id -> seconds, ``drscaling.wall_estimate.machine_estimate``'s ``per_run``) puts the runs
    left and an ETA on the progress bar.
    """
    items = [_as_planned(p) for p in planned]
    unique: dict[str, PlannedRun] = {}
    for p in items:
        unique.setdefault(p.run_id, p)
    items = list(unique.values())
    executor = executor or profile.grid.executor
    if executor not in ("local", "ray"):
        raise ConfigError(f"executor: expected local or ray, got {executor!r}")
    root = runs_dir(profile)
    for p in items:  # a folder holding another spec stops everything before anything runs
        check_spec_file(p.spec, root / p.run_id)
    records = {}
    workers = profile.grid.workers if executor == "local" else 1
    desc = "runs (ray)" if executor == "ray" else f"runs ({workers} workers)" if workers > 1 else "runs"
    # one bar over both stages, so that its ETA counts the runs of the second stage too
    bar = GridProgress(len(items), desc, progress, estimates, workers,
                       [p.run_id for p in items if not is_done(root / p.run_id)])
    try:
        for stage in run_stages(items):  # the pretraining runs first: the others start from them
            if executor == "local":
                done = _run_local(stage, root, run_fn, bar, workers)
            else:
                done = _run_ray(stage, root, run_fn, ray_address or profile.grid.ray_address,
                                profile.grid.gpus_per_run if gpus_per_run is None else gpus_per_run,
                                cpus_per_run, bar, max_retries)
            records.update((r["run_id"], r) for r in done)
    finally:
        bar.close()
    return [records[p.run_id] for p in items]


def run_stages(items: list[PlannedRun]) -> list[list[PlannedRun]]:
    """The plan in two stages: the runs others start from (init), then the rest."""
    inits = {init_run(p.spec) for p in items}
    first = [p for p in items if p.run_id in inits]
    rest = [p for p in items if p.run_id not in inits]
    return [stage for stage in (first, rest) if stage]


def _run_local(items: list[PlannedRun], root: Path, run_fn, bar: GridProgress, workers: int = 1) -> list[dict]:
    pending = [p for p in items if not is_done(root / p.run_id)]
    if workers > 1 and len(pending) > 1:
        return _run_local_parallel(items, pending, root, run_fn, bar, workers)
    records = []
    for p in items:
        bar.current(p.run_id)
        record = execute_run(p.spec, root, run_fn=run_fn, sweeps=p.sweeps)
        records.append(record)
        bar.done(record)
    return records


def run_cost(spec: RunSpec) -> float:
    """A rough relative cost of a run, to start the longest first: steps x a CPU step's cost,
    which for these small shapes grows with the width about as 1 + H/20 + (H/45)^2 per layer
    (scripts/bench_step.py, one thread: L1-H8 0.06 s, L1-H64 0.21 s, L1-H128 0.53 s)."""
    steps = int(spec.training.get("steps", 1))
    model = spec.model
    if "pretrained" in model:
        return steps * 1e3
    hidden = float(model.get("hidden", 64))
    return steps * float(model.get("layers", 1)) * (1 + hidden / 20 + (hidden / 45) ** 2)


def launch_order(pending: list[PlannedRun]) -> list[PlannedRun]:
    """The order in which the parallel executor starts runs: the costliest first (so that no
    long run starts last); drscaling.wall_estimate follows it."""
    return sorted(pending, key=lambda p: -run_cost(p.spec))


def _worker_init(parent_pid: int) -> None:
    """In each worker: die with the process that started it. A killed study (make and its
    notebook's kernel killed) must not leave workers training on, into the folders of the runs
    that the restarted study trains again."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent died before that took effect
        os._exit(1)


def _run_local_parallel(items, pending, root: Path, run_fn, bar: GridProgress, workers: int) -> list[dict]:
    """``workers`` processes, each running one pending run at a time, the costliest first (so
    that no long run starts last). A worker that dies takes its run down as failed."""
    import concurrent.futures as cf
    import multiprocessing

    waiting = {p.run_id for p in pending}
    records = {p.run_id: _skipped(root / p.run_id) for p in items if p.run_id not in waiting}
    for r in records.values():
        bar.done(r)
    order = launch_order(pending)
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                  initializer=_worker_init, initargs=(os.getpid(),))
    try:
        futures = {pool.submit(execute_run, p.spec, root, run_fn, p.sweeps): p for p in order}
        for future in cf.as_completed(futures):
            p = futures[future]
            try:
                record = future.result()
            except Exception as e:  # the worker died (BrokenProcessPool) or could not take the task
                if isinstance(e, cf.process.BrokenProcessPool):
                    e = RuntimeError(f"{e} (out of memory? killed? A script that runs a grid with workers > 1 "
                                     f"must guard its top level with `if __name__ == '__main__':`)")
                record = _driver_failure(p, root, e, "driver (the worker process failed)")
            records[p.run_id] = record
            bar.done(record)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in list(getattr(pool, "_processes", {}).values()):  # interrupted: stop the runs
            proc.terminate()
        raise
    pool.shutdown(wait=True)
    return [records[p.run_id] for p in items]


def _ray_task(spec: RunSpec, root: str, run_fn, sweeps: tuple[str, ...]) -> dict:
    """What a Ray worker runs (module level: workers import it from drscaling.grid)."""
    return execute_run(spec, Path(root), run_fn=run_fn, sweeps=sweeps)


def _driver_failure(p: PlannedRun, root: Path, exc: BaseException,
                    where: str = "driver (the Ray task failed)") -> dict:
    """A task that raised or whose worker died: record it unless the worker finished after all."""
    run_dir = root / p.run_id
    if is_done(run_dir):
        return {**read_json(run_dir / RESULT_FILE), "skipped": False, "run_dir": str(run_dir)}
    run_dir.mkdir(parents=True, exist_ok=True)
    record = _error_record(p.spec, p.sweeps, exc, str(exc), where, _now(), None)
    write_json(run_dir / ERROR_FILE, record)
    return {**record, "skipped": False, "run_dir": str(run_dir)}


def _run_ray(items, root: Path, run_fn, address, gpus_per_run, cpus_per_run, bar: GridProgress,
             max_retries) -> list[dict]:
    records: dict[str, dict] = {}
    pending = []
    for p in items:  # finished runs get no task
        if is_done(root / p.run_id):
            records[p.run_id] = _skipped(root / p.run_id)
        else:
            pending.append(p)
    for r in records.values():
        bar.done(r)
    if not pending:
        return [records[p.run_id] for p in items]

    import ray

    started_here = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=True)
        else:
            ray.init(object_store_memory=128 * 1024**2, include_dashboard=False, log_to_driver=True)
        started_here = True
    refs: dict = {}
    try:
        resources = ray.cluster_resources()
        has_gpu = resources.get("GPU", 0) > 0
        node_cpus = max([n["Resources"].get("CPU", 0) for n in ray.nodes() if n.get("Alive")] or [1])
        env = {k: os.environ[k] for k in ENV_VARS if os.environ.get(k)}
        task = ray.remote(_ray_task)
        for p in pending:
            if cpus_per_run is not None:
                cpus = cpus_per_run
            elif has_gpu:
                cpus = 1
            else:
                threads = int(p.spec.training.get("threads", 0) or 0)
                cpus = min(threads, node_cpus) if threads > 0 else node_cpus
            options = {"num_cpus": cpus, "num_gpus": gpus_per_run if has_gpu else 0,
                       "max_retries": max_retries, "name": p.run_id}
            if env:
                options["runtime_env"] = {"env_vars": env}
            refs[task.options(**options).remote(p.spec, str(root), run_fn, p.sweeps)] = p
        waiting = list(refs)
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1)
            for ref in done:
                p = refs[ref]
                try:
                    record = ray.get(ref)
                except Exception as e:  # the task raised, or its worker died
                    record = _driver_failure(p, root, e)
                records[p.run_id] = record
                bar.done(record)  # the postfix names the run that finished last
    except BaseException:
        for ref in refs:  # interrupted: stop what is still running
            try:
                ray.cancel(ref, force=True)
            except Exception:
                pass
        raise
    finally:
        if started_here:
            ray.shutdown()
    return [records[p.run_id] for p in items]
