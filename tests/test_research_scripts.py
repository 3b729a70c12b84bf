"""Every script in scripts/ (the tools a user of the study runs) and in research/ (the pilots and
one-off analyses behind the design log) still starts: ``--help`` exits 0 and prints a usage line,
without side effects. The scripts are found by glob, so a new one is covered without a change
here; a script without argparse fails (it would run instead of explaining itself)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("scripts", "research")


def scripts(folder: str) -> list[Path]:
    return sorted((ROOT / folder).glob("*.py"))


@pytest.mark.parametrize("folder", FOLDERS)
def test_folder_has_scripts(folder):
    assert scripts(folder), f"no script found in {folder}/"


@pytest.mark.parametrize("script", [p.relative_to(ROOT).as_posix() for folder in FOLDERS for p in scripts(folder)])
def test_script_help(script, tmp_path):
    proc = subprocess.run([sys.executable, script, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{script} --help exited {proc.returncode}:\n{proc.stderr[-2000:]}"
    assert proc.stdout.startswith(f"usage: {Path(script).name}"), f"{script} --help printed no usage line:\n{proc.stdout[:500]}"
    # --help must not have started anything that writes (runs, outputs, downloads): the
    # conftest points DRSCALING_DATA and DRSCALING_OUTPUTS into tmp_path, which stays empty
    assert not any((tmp_path / d).exists() for d in ("data", "outputs")), f"{script} --help wrote under {tmp_path}"
