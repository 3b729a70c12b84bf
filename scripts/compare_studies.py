"""Whether two executed studies give the same results: the check that a restructuring left the
numbers alone (run the smoke study before and after, each with its own DRSCALING_OUTPUTS).

Compares results.csv, tables/*.csv and the JSON outputs (fits.json, annotation.json,
budget.json, bm25.json) of two ``outputs/<profile>/`` folders exactly, except the fields that
record when, how fast and from which commit a run was made (TIMING_FIELDS). Prints one line per
file and exits 1 when any result differs.

    DRSCALING_OUTPUTS=/tmp/before make reproduce PROFILE=smoke    # on the old commit
    DRSCALING_OUTPUTS=/tmp/after make reproduce PROFILE=smoke     # on the new one
    python scripts/compare_studies.py /tmp/before/smoke /tmp/after/smoke
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

# what differs between two calls that computed the same thing
TIMING_FIELDS = {"train_seconds", "eval_seconds", "wall_seconds", "finished", "started", "seconds",
                 "provenance.commit", "provenance.dirty", "provenance.host", "made"}
JSON_FILES = ("fits.json", "annotation.json", "budget.json", "bm25.json")


def _without_timing(value):
    if isinstance(value, dict):
        return {k: _without_timing(v) for k, v in value.items() if k not in TIMING_FIELDS}
    if isinstance(value, list):
        return [_without_timing(v) for v in value]
    return value


def compare_tables(a: Path, b: Path) -> str | None:
    """None when the two CSV files agree on every column but the timing ones, else what differs."""
    x, y = pd.read_csv(a), pd.read_csv(b)
    if list(x.columns) != list(y.columns) or len(x) != len(y):
        return f"columns or rows differ ({x.shape} against {y.shape})"
    differ = [c for c in x.columns if c not in TIMING_FIELDS and not x[c].equals(y[c])]
    return f"columns differ: {', '.join(differ)}" if differ else None


def compare_json(a: Path, b: Path) -> str | None:
    x, y = (_without_timing(json.loads(p.read_text())) for p in (a, b))
    return None if x == y else "contents differ (timing fields left out)"


def compare(before: Path, after: Path) -> list[tuple[str, str | None]]:
    """(file, None if the same else what differs) for every result file of ``before``."""
    rows = []
    files = [before / "results.csv", *sorted((before / "tables").glob("*.csv")),
             *(before / name for name in JSON_FILES)]
    for path in files:
        if not path.is_file():
            continue
        rel = path.relative_to(before)
        other = after / rel
        if not other.is_file():
            rows.append((str(rel), f"missing in {after}"))
        elif path.suffix == ".csv":
            rows.append((str(rel), compare_tables(path, other)))
        else:
            rows.append((str(rel), compare_json(path, other)))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path, help="outputs/<profile>/ of the first study")
    parser.add_argument("after", type=Path, help="outputs/<profile>/ of the second")
    args = parser.parse_args(argv)
    rows = compare(args.before, args.after)
    if not rows:
        print(f"{args.before}: no result files")
        return 1
    for name, why in rows:
        print(f"{name}: {'same' if why is None else 'DIFFERS: ' + why}")
    return 0 if all(why is None for _, why in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
