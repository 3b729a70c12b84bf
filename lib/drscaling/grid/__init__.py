"""The training grid, one module per concept:

- :mod:`.spec`: a run's spec and stable id, its folder, the constants and errors;
- :mod:`.plan`: a profile's grid expanded into runs, and the checks of a plan;
- :mod:`.execute`: one run, and the local and Ray executors;
- :mod:`.results`: run folders read back into a table, stage summaries and checks;
- :mod:`.cli`: ``python -m drscaling grid``.

Every public name is importable from ``drscaling.grid`` itself.
"""

from __future__ import annotations

from .spec import (  # noqa: F401
    DONE_STATUSES,
    ENV_VARS,
    ERROR_FILE,
    FAILED,
    FAIL_ENV,
    FORMAT_VERSION,
    IncompleteGridError,
    InjectedFailure,
    LATE_TRAINING_DEFAULTS,
    MAIN_SWEEPS,
    PRETRAINING_KEYS,
    PlannedRun,
    RESULT_FILE,
    RunFn,
    RunFolderError,
    RunSpec,
    RunsFailedError,
    SHAPE_KEYS,
    SPEC_FILE,
    SWEEPS,
    init_run,
    is_done,
    runs_dir,
)
from .plan import (  # noqa: F401
    MIN_PASSES,
    PlanWarning,
    STALL_NATS,
    passes,
    plan_grid,
    plan_warnings,
    stalled_runs,
    warn_about_plan,
)
from .execute import (  # noqa: F401
    check_spec_file,
    execute_run,
    run_cost,
    run_grid,
)
from .results import (  # noqa: F401
    BASE_COLUMNS,
    PENDING,
    check_failures,
    check_trainer_versions,
    collect_results,
    failure_lines,
    missing_runs,
    plan_table,
    RESULT_COLUMNS,
    require_complete,
    results_table,
    summary_path,
    training_logs,
    write_summary,
)
from .cli import (  # noqa: F401
    cli,
)
