"""`make lab` starts JupyterLab headless (as root too) with the project's kernel on the six
notebooks: started on a free local port with a token, asked over its REST API, stopped by its
process id."""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STARTUP = 90  # seconds for the server to answer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, token: str):
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_make_lab_serves_the_notebooks_with_the_drscaling_kernel(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("needs make")
    port, token = free_port(), "drscaling-test-token"
    args = f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 --IdentityProvider.token={token}"
    log = open(tmp_path / "lab.log", "w")
    # a session of its own: make, and the server it starts, are stopped together by the group id
    proc = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, specs = time.time() + STARTUP, None
        while time.time() < deadline:
            assert proc.poll() is None, f"make lab exited ({proc.returncode}):\n{(tmp_path / 'lab.log').read_text()[-3000:]}"
            try:
                specs = get(f"{base}/api/kernelspecs", token)
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        assert specs is not None, f"no answer in {STARTUP} s:\n{(tmp_path / 'lab.log').read_text()[-3000:]}"
        assert "drscaling" in specs["kernelspecs"]
        contents = get(f"{base}/api/contents", token)
        notebooks = sorted(c["name"] for c in contents["content"] if c["type"] == "notebook")
        ipynb = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
        # jupytext (jupytext.toml) serves each paired percent script as a notebook too
        assert notebooks == sorted(ipynb + [name.replace(".ipynb", ".py") for name in ipynb]) and len(ipynb) == 6
        with pytest.raises(urllib.error.HTTPError):  # the token is required
            get(f"{base}/api/contents", "wrong")
        if os.geteuid() == 0:
            assert "--allow-root" in (tmp_path / "lab.log").read_text()  # make echoes its command
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
