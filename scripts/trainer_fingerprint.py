"""Write tests/fixtures/trainer_fingerprint.json: the numbers of the fixed tiny fp32 run that
identifies the trainer (drscaling.fingerprint.trainer_fingerprint).

Run it after bumping drscaling.provenance.TRAINER_VERSION (a change to the training numerics);
tests/test_trainer_version.py then checks the trainer against it. ``--check`` compares
instead of writing, and prints the largest relative difference.

    python scripts/trainer_fingerprint.py [--check]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FINGERPRINT = ROOT / "tests" / "fixtures" / "trainer_fingerprint.json"


def compute() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DRSCALING_DATA"] = str(Path(tmp) / "data")
        os.environ["DRSCALING_OUTPUTS"] = str(Path(tmp) / "outputs")
        from drscaling.config import load_profile
        from drscaling.datasets import prepare_dataset
        from drscaling.fingerprint import trainer_fingerprint

        key = prepare_dataset(load_profile("smoke")).manifest["key"]
        return trainer_fingerprint(key, Path(tmp) / "run")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the stored fingerprint, do not write")
    args = parser.parse_args()
    from drscaling.fileio import read_json, write_json
    from drscaling.fingerprint import fingerprint_difference

    now = compute()
    if args.check:
        stored = read_json(FINGERPRINT)
        print(f"largest relative difference from {FINGERPRINT}: {fingerprint_difference(stored, now):.3g}")
        return 0
    write_json(FINGERPRINT, now)
    print(f"wrote {FINGERPRINT} (trainer version {now['trainer_version']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
