"""Kill anywhere, lose nothing: the smoke study killed (SIGKILL) at 12 moments and restarted
each time ends with the same results as an uninterrupted run (scripts/kill_test.py).
Slow (two smoke studies plus the restarts: minutes): run with `make test-slow`."""

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 25 * 60  # seconds: the script gives up (and stops its study) after this


@pytest.mark.slow
def test_killed_and_restarted_study_equals_uninterrupted(tmp_path, shared_squad):
    if not (ROOT / ".venv" / ".drscaling-installed").is_file():
        pytest.skip("needs the project's .venv (make venv)")
    if shutil.which("make") is None:
        pytest.skip("needs make")
    started = time.time()
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "kill_test.py"), "--kills", "12", "--seed", "0",
                           "--tmp", str(tmp_path), "--timeout", str(LIMIT)],
                          capture_output=True, text=True, timeout=LIMIT + 120)
    print(proc.stdout)
    assert proc.returncode == 0, f"kill test failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    assert "kill points: 12 achieved" in proc.stdout
    print(f"kill test: {time.time() - started:.0f} s")
