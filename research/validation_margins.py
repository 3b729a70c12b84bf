"""Validation CLL of every finished run in a runs folder, and how far below chance it lies: the
1-nat margin that chooses a profile's shapes (docs/design.md), read on validation only (test CLL
is not printed). Used to design cpu-zh from its pilot (research/pilots/cpu-zh-pilot.yaml).

    python research/validation_margins.py outputs/cpu-zh-pilot/runs
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from drscaling.fileio import read_json

CHANCE = math.log(257)  # 256 CLL negatives and the positive (every profile here)
MARGIN = 1.0  # nats below chance


def rows(runs: Path) -> list[dict]:
    out = []
    for path in sorted(runs.glob("*/result.json")):
        rec = read_json(path)
        res, spec = rec.get("result") or {}, rec.get("spec") or {}
        if rec.get("status") != "ok" or "cll_validation" not in res:
            continue
        model = spec["model"]
        out.append({"pairs": spec["annotation"], "model": f"L{model['layers']}-H{model['hidden']}",
                    "hidden": model["hidden"], "n_train": spec["n_train"], "seed": spec["seed"],
                    "validation": res["cll_validation"], "below_chance": CHANCE - res["cll_validation"],
                    "best_pass": res.get("best_pass"), "checks": res.get("checks")})
    return sorted(out, key=lambda r: (r["pairs"], r["hidden"], r["n_train"], r["seed"]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path)
    args = parser.parse_args(argv)
    print(f"{'pairs':6} {'model':8} {'D':>6} {'seed':>4} {'val CLL':>8} {'below chance':>12} {'best pass':>9}")
    for r in rows(args.runs):
        flag = "" if r["below_chance"] >= MARGIN else f"  inside the {MARGIN:g}-nat margin"
        print(f"{r['pairs']:6} {r['model']:8} {r['n_train']:6d} {r['seed']:4d} {r['validation']:8.3f} "
              f"{r['below_chance']:12.3f} {r['best_pass'] or 0:9.2f}{flag}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
