"""The trainer's version guards its numbers: a fixed tiny fp32 run must give the numbers stored
in tests/fixtures/trainer_fingerprint.json unless TRAINER_VERSION was bumped (and the file
regenerated with scripts/trainer_fingerprint.py)."""

import json
from pathlib import Path

import pytest

from drscaling import fingerprint, provenance
from drscaling.config import load_profile
from drscaling.grid.spec import RunSpec

FINGERPRINT = Path(__file__).parent / "fixtures" / "trainer_fingerprint.json"
# Reruns on this machine agree exactly; the margin absorbs another CPU's float rounding.
# A real change of the numerics moves them by far more (test_a_changed_numeric_is_caught).
TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def smoke_key(tmp_path_factory, shared_squad):
    import os

    from drscaling.datasets import prepare_dataset

    root = tmp_path_factory.mktemp("fingerprint-data")
    old = os.environ.get("DRSCALING_DATA")
    os.environ["DRSCALING_DATA"] = str(root)
    try:
        key = prepare_dataset(load_profile("smoke")).manifest["key"]
    finally:
        if old is None:
            del os.environ["DRSCALING_DATA"]
        else:
            os.environ["DRSCALING_DATA"] = old
    return root, key


def run_fingerprint(smoke_key, run_dir, monkeypatch):
    root, key = smoke_key
    monkeypatch.setenv("DRSCALING_DATA", str(root))
    return fingerprint.trainer_fingerprint(key, run_dir)


def test_trainer_numbers_match_the_fingerprint_of_its_version(smoke_key, tmp_path, monkeypatch):
    stored = json.loads(FINGERPRINT.read_text())
    assert stored["trainer_version"] == provenance.TRAINER_VERSION, (
        f"TRAINER_VERSION is {provenance.TRAINER_VERSION} but {FINGERPRINT} was recorded for version "
        f"{stored['trainer_version']}: run `python scripts/trainer_fingerprint.py` and commit the file")
    now = run_fingerprint(smoke_key, tmp_path / "run", monkeypatch)
    difference = fingerprint.fingerprint_difference(stored, now)
    assert difference <= TOLERANCE, (
        f"the training numbers moved (largest relative difference {difference:.3g}) while TRAINER_VERSION stayed "
        f"{provenance.TRAINER_VERSION}: bump it in drscaling/provenance.py, so that old runs are not reused or fitted "
        f"with new ones, and regenerate {FINGERPRINT.name} with scripts/trainer_fingerprint.py")


def test_a_changed_numeric_is_caught(smoke_key, tmp_path, monkeypatch):
    """The check can fail: a learning rate 5% higher (a change to the schedule) moves the numbers
    beyond the tolerance."""
    from drscaling import train

    original = train.learning_rate
    monkeypatch.setattr(train, "learning_rate", lambda cfg, step: 1.05 * original(cfg, step))
    now = run_fingerprint(smoke_key, tmp_path / "run", monkeypatch)
    assert fingerprint.fingerprint_difference(json.loads(FINGERPRINT.read_text()), now) > 10 * TOLERANCE


def test_trainer_version_is_part_of_the_run_id():
    spec = dict(profile="p", dataset="d", data_key="k", annotation="human", model={"layers": 1, "hidden": 8},
                n_train=10, seed=0)
    a = RunSpec(**spec)
    b = RunSpec(**spec, trainer_version=provenance.TRAINER_VERSION + 1)
    assert a.trainer_version == provenance.TRAINER_VERSION and a.run_id != b.run_id
    assert RunSpec.from_dict(a.to_dict()) == a
    old = {k: v for k, v in a.to_dict().items() if k != "trainer_version"}  # recorded before versions
    assert RunSpec.from_dict(old).trainer_version == 0


def test_a_run_planned_for_another_trainer_is_refused(tmp_path):
    from drscaling.train import train_and_evaluate

    spec = RunSpec(profile="p", dataset="d", data_key="k", annotation="human", model={"layers": 1, "hidden": 8},
                   n_train=10, seed=0, trainer_version=provenance.TRAINER_VERSION + 1)
    with pytest.raises(RuntimeError, match=f"planned for trainer version {provenance.TRAINER_VERSION + 1}"):
        train_and_evaluate(spec, tmp_path / "run")


def test_provenance_names_code_packages_and_machine():
    p = provenance.provenance()
    assert p["trainer_version"] == provenance.TRAINER_VERSION
    assert len(p["commit"]) == 40 and isinstance(p["dirty"], bool)  # the tests run in a git checkout
    import numpy
    import torch

    assert p["torch"] == torch.__version__.split("+")[0] or p["torch"] == torch.__version__
    assert p["numpy"] == numpy.__version__ and p["drscaling"]
    assert p["cpu"] and p["cpu_count"] >= 1 and p["python"].count(".") == 2
