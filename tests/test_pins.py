"""The pinned dependencies: one list in requirements.txt, the same in environment.yml."""

import re

import yaml

from drscaling import paths

REQUIRED = {"torch", "transformers", "tokenizers", "faiss-cpu", "scipy", "lmfit", "seaborn", "pandas",
            "pyarrow", "papermill", "ipykernel", "jupyterlab", "tqdm", "pyyaml"}
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([0-9][A-Za-z0-9.+\-]*)$")


def parse(lines, where):
    pins = {}
    for line in lines:
        m = PIN.match(line)
        assert m, f"{where}: {line!r} is not an exact pin (name==version)"
        pins[m.group(1).lower()] = m.group(2)
    return pins


def requirements():
    lines = [ln.split("#")[0].strip() for ln in (paths.ROOT / "requirements.txt").read_text().splitlines()]
    return parse([ln for ln in lines if ln], "requirements.txt")


def environment():
    env = yaml.safe_load((paths.ROOT / "environment.yml").read_text())
    (pip,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    return parse([p for p in pip if not p.startswith("-")], "environment.yml")


def test_both_lists_agree():
    req, env = requirements(), environment()
    assert req == env, {k: (req.get(k), env.get(k)) for k in req.keys() | env.keys() if req.get(k) != env.get(k)}


def test_required_packages_are_pinned():
    assert REQUIRED <= set(requirements()), REQUIRED - set(requirements())
    assert requirements()["torch"] == "2.13.0"


def test_installed_versions_match_the_pins():
    """The environment running the tests is the pinned one."""
    from importlib.metadata import version

    for name, pinned in requirements().items():
        assert version(name).split("+")[0] == pinned, name
