"""Command line: ``python -m drscaling <command> --profile NAME``.

- ``run-notebook NAME``: execute one notebook with papermill (what `make reproduce` does);
- ``prepare``: data preparation alone, without the notebook.
"""

from __future__ import annotations

import argparse
import sys


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
    args = parser.parse_args(argv)

    from .config import ConfigError

    try:
        if args.command == "run-notebook":
            import logging

            from .notebooks import KERNEL, run_notebook

            logging.basicConfig(level=logging.INFO, format="%(message)s")  # papermill echoes cell output
            print(run_notebook(args.name, args.profile, kernel=args.kernel or KERNEL, progress=True))
        elif args.command == "prepare":
            from .config import load_profile
            from .datasets import prepare_dataset

            print(prepare_dataset(load_profile(args.profile), force=args.force).dir)
    except (ConfigError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
