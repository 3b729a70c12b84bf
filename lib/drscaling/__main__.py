"""Command line: ``python -m drscaling <command> --profile NAME``.

- ``run-notebook NAME``: execute one notebook with papermill (what `make reproduce` does);
- ``prepare``: data preparation alone, without the notebook;
- ``grid``: train the profile's grid of runs (``--dry-run``: list them), locally or on Ray;
- ``plan``: every run of the profile, which are done, the data and checkpoints it needs and
  whether each is here, this machine's wall time for the pending runs (a few steps timed here,
  cached; ``--no-timing`` skips it) and an estimate of GPU time; trains no run, downloads nothing;
- ``html`` / ``slides``: the executed study as one self-contained page / a reveal.js deck.
"""

from __future__ import annotations

import argparse
import sys


def _now() -> str:
    import datetime

    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drscaling", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run-notebook", help="execute notebooks/NAME.ipynb for a profile")
    run.add_argument("name")
    run.add_argument("--profile", default="cpu")
    run.add_argument("--kernel", default=None, help="Jupyter kernel (default: drscaling)")
    prep = sub.add_parser("prepare", help="prepare the profile's dataset")
    prep.add_argument("--profile", default="cpu")
    prep.add_argument("--force", action="store_true", help="prepare again even if up to date")
    grid = sub.add_parser("grid", help="train the profile's grid of runs (skips finished runs)")
    grid.add_argument("--profile", default="cpu")
    grid.add_argument("--executor", choices=("local", "ray"), default=None,
                      help="default: the profile's grid.executor")
    grid.add_argument("--ray-address", default=None,
                      help="an existing Ray cluster ('auto', 'ray://host:10001'); default: the profile's, else start one")
    grid.add_argument("--gpus-per-run", type=float, default=None, help="default: the profile's grid.gpus_per_run")
    grid.add_argument("--dry-run", action="store_true", help="list the planned runs and whether they are done")
    grid.add_argument("--strict", action="store_true",
                      help="refuse a plan whose largest D is seen fewer than 2.5 times, or whose shapes stall near chance")
    grid.add_argument("--sweeps", default="model_size,data_size,joint",
                      help="comma-separated sweeps to run (default: %(default)s; 'annotation' is notebook 04's)")
    plan = sub.add_parser("plan", help="the runs, what they need, and estimates of their wall time on this machine "
                                       "(a few steps timed here, cached) and of their GPU time (trains no run)")
    plan.add_argument("--profile", default="cpu")
    plan.add_argument("--no-timing", action="store_true", help="skip this machine's estimate (times a few steps)")
    for name, text in (("html", "the executed study as one self-contained page (outputs/<profile>/report.html)"),
                       ("slides", "a reveal.js deck of the study's figures and key tables (outputs/<profile>/slides.html)")):
        sub.add_parser(name, help=text).add_argument("--profile", default="cpu")
    args = parser.parse_args(argv)
    from .logs import show_messages

    show_messages()  # the library logs; the command line shows it

    from .config import ConfigError

    try:
        if args.command == "run-notebook":
            import logging

            from .notebook_runner import KERNEL, run_notebook

            from papermill.exceptions import PapermillExecutionError

            logging.basicConfig(level=logging.INFO, format="%(message)s")  # papermill echoes cell output
            try:
                print(run_notebook(args.name, args.profile, kernel=args.kernel or KERNEL, progress=True))
            except PapermillExecutionError as e:  # the cell's own error, without papermill's frame
                print(f"error: notebook {args.name} (profile {args.profile}) stopped in cell {e.cell_index}: "
                      f"{e.ename}: {e.evalue}\n(the executed copy with the error in place: "
                      f"{args.name}.failed.ipynb in the profile's outputs/<profile>/notebooks/)", file=sys.stderr)
                return 1
        elif args.command == "prepare":
            from .config import load_profile
            from .datasets import prepare_dataset

            try:
                print(prepare_dataset(load_profile(args.profile), force=args.force).dir)
            except ValueError as e:  # bad input (DataFormatError): the message names file and record
                print(f"error: {e}", file=sys.stderr)
                return 2
        elif args.command == "plan":
            from .config import load_profile
            from .estimate import format_report, plan_report
            from .wall_estimate import format_machine_estimate, machine_estimate

            profile = load_profile(args.profile)
            report = plan_report(profile)
            print(format_report(report))
            if not args.no_timing:
                from .datasets import ProcessedData

                data = ProcessedData(profile.processed_dir) if report["prepared"] else None
                est = machine_estimate(profile, data)
                if est:  # kept, to compare with the call that follows (scripts/plan_vs_actual.py)
                    from .fileio import write_json

                    write_json(profile.outputs_dir / "wall_estimate.json", {**est, "made": _now()})
                print()
                print(format_machine_estimate(est) if est else "a GPU is present: the runs train there (GPU estimate above)")
        elif args.command in ("html", "slides"):
            from . import presentation
            from .config import load_profile

            build = presentation.build_html if args.command == "html" else presentation.build_slides
            print(build(load_profile(args.profile)))
        elif args.command == "grid":
            from .grid import RunFolderError, cli

            try:
                rc = cli(args.profile, executor=args.executor, ray_address=args.ray_address,
                         gpus_per_run=args.gpus_per_run, dry_run=args.dry_run,
                         sweeps=[x.strip() for x in args.sweeps.split(",") if x.strip()], strict=args.strict)
            except (RunFolderError, ValueError) as e:
                raise ConfigError(str(e)) from None
            if rc:
                return rc
    except (ConfigError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
