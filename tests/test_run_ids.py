"""The run ids of every shipped profile's whole plan (the main grid, the pretraining stage and the
annotation study) equal those in tests/fixtures/run_ids.json.

A run id hashes the run's full spec (the profile's settings as they reach the run, the defaults
included, the data key and the trainer version), so an edit to a profile that should only tidy
it (a comment, a key that is never read, a value spelled another way) must leave every id as it
was: finished runs are found by their id, and a changed id trains them again. The plans are
computed without prepared data, with the fixed data key ``"k" * 64`` (as tests/test_config.py
does): the ids here follow the profiles and the code, not the data.

When a change is meant to change runs (a new setting, a new trainer version, a new profile),
write the fixture again, from the repository root, and commit it with the change:

    .venv/bin/python tests/test_run_ids.py --write

(or ``DRSCALING_WRITE_RUN_IDS=1 .venv/bin/python -m pytest -q tests/test_run_ids.py``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "run_ids.json"
DATA_KEY = "k" * 64
NOT_PROFILES = ("paper_reported",)  # the paper's fitted values, not a profile


def profiles() -> list[str]:
    return sorted(p.stem for p in (ROOT / "configs").glob("*.yaml") if p.stem not in NOT_PROFILES)


def run_ids(name: str) -> list[str]:
    """The sorted run ids of the profile's whole plan."""
    from drscaling.config import load_profile
    from drscaling.grid import SWEEPS, plan_grid

    return sorted(p.run_id for p in plan_grid(load_profile(name), DATA_KEY, sweeps=SWEEPS))


def write_fixture() -> dict[str, list[str]]:
    ids = {name: run_ids(name) for name in profiles()}
    FIXTURE.write_text(json.dumps(ids, indent=1) + "\n")
    return ids


def test_profiles_found():
    assert profiles(), "no profile in configs/"


@pytest.mark.parametrize("name", profiles())
def test_run_ids_unchanged(name):
    if os.environ.get("DRSCALING_WRITE_RUN_IDS"):
        write_fixture()
    stored = json.loads(FIXTURE.read_text())
    assert name in stored, f"{name}: not in {FIXTURE.name}; write it with python tests/test_run_ids.py --write"
    assert run_ids(name) == stored[name], (
        f"{name}: its plan's run ids changed; if that is meant, write {FIXTURE.name} again "
        "(python tests/test_run_ids.py --write)")


def test_no_stale_profiles_in_fixture():
    assert sorted(json.loads(FIXTURE.read_text())) == profiles()


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit(f"usage: python {Path(__file__).relative_to(ROOT)} --write")
    written = write_fixture()
    print(f"wrote {FIXTURE.relative_to(ROOT)}: " + ", ".join(f"{k} {len(v)}" for k, v in written.items()))
