"""The training grid, one module per concept:

- :mod:`.spec`: a run's spec and stable id, its folder, the constants and errors;
- :mod:`.plan`: a profile's grid expanded into runs, and the checks of a plan;
- :mod:`.execute`: one run, and the local and Ray executors;
- :mod:`.results`: run folders read back into a table, stage summaries and checks;
- :mod:`.cli`: ``python -m drscaling grid``.

Every public name is importable from ``drscaling.grid`` itself, loaded on first use: importing
``RunSpec`` loads :mod:`.spec` alone, not the executors (nor, through them, the trainer).
"""

from __future__ import annotations

import importlib

# name -> the submodule that defines it
_NAMES = {
    # spec
    "DONE_STATUSES": "spec",
    "ENV_VARS": "spec",
    "ERROR_FILE": "spec",
    "FAILED": "spec",
    "FAIL_ENV": "spec",
    "FORMAT_VERSION": "spec",
    "IncompleteGridError": "spec",
    "InjectedFailure": "spec",
    "LATE_TRAINING_DEFAULTS": "spec",
    "MAIN_SWEEPS": "spec",
    "PRETRAINING_KEYS": "spec",
    "PlannedRun": "spec",
    "RESULT_FILE": "spec",
    "RunFn": "spec",
    "RunFolderError": "spec",
    "RunSpec": "spec",
    "RunsFailedError": "spec",
    "SHAPE_KEYS": "spec",
    "SPEC_FILE": "spec",
    "SWEEPS": "spec",
    "init_run": "spec",
    "is_done": "spec",
    "runs_dir": "spec",
    # plan
    "MIN_PASSES": "plan",
    "PlanWarning": "plan",
    "STALL_NATS": "plan",
    "passes": "plan",
    "plan_grid": "plan",
    "plan_warnings": "plan",
    "stalled_runs": "plan",
    "warn_about_plan": "plan",
    # execute
    "check_spec_file": "execute",
    "execute_run": "execute",
    "run_cost": "execute",
    "run_grid": "execute",
    # results
    "BASE_COLUMNS": "results",
    "PENDING": "results",
    "RESULT_COLUMNS": "results",
    "check_failures": "results",
    "check_trainer_versions": "results",
    "collect_results": "results",
    "failure_lines": "results",
    "missing_runs": "results",
    "plan_table": "results",
    "require_complete": "results",
    "results_table": "results",
    "summary_path": "results",
    "training_logs": "results",
    "write_summary": "results",
    # cli
    "cli": "cli",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_NAMES))
