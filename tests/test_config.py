import subprocess

import pytest
import yaml

from drscaling import paths
from drscaling.config import ConfigError, load_profile

PROFILES = sorted(p.stem for p in paths.CONFIGS.glob("*.yaml") if p.stem != "paper_reported")


@pytest.mark.parametrize("name", PROFILES)
def test_shipped_profiles_load(name):
    profile = load_profile(name)
    assert profile.name == name and profile.dataset
    assert profile.data.cll_negatives > 0


@pytest.mark.parametrize("name", PROFILES)
def test_makefile_reads_the_same_dataset_name(name):
    out = subprocess.run(["make", "-s", "--no-print-directory", "print-dataset", f"PROFILE={name}"],
                         cwd=paths.ROOT, capture_output=True, text=True, check=True).stdout.strip()
    assert out == load_profile(name).dataset


def test_default_profiles_exist():
    assert {"smoke", "cpu", "gpu", "paper"} <= set(PROFILES)


def write(tmp_path, doc):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_unknown_top_level_key(tmp_path):
    path = write(tmp_path, {"dataset": "x", "trainig": {}})
    with pytest.raises(ConfigError, match=rf"{path}: unknown key\(s\) \['trainig'\]"):
        load_profile(path)


def test_unknown_data_key(tmp_path):
    path = write(tmp_path, {"dataset": "x", "data": {"subset_size": [1, 2]}})
    with pytest.raises(ConfigError, match=r"p\.yaml: data: unknown key\(s\) \['subset_size'\]"):
        load_profile(path)


@pytest.mark.parametrize("data, match", [
    ({"vocab_size": "big"}, r"data\.vocab_size: expected int"),
    ({"subset_sizes": [100, 10]}, r"subset_sizes: expected increasing"),
    ({"source": "trec"}, r"data\.source: expected one of"),
    ({"cll_negatives": 0}, r"data\.cll_negatives: expected a positive integer"),
    ({"search_dirs": "data/raw"}, r"data\.search_dirs: expected a list"),
])
def test_bad_values(tmp_path, data, match):
    with pytest.raises(ConfigError, match=match):
        load_profile(write(tmp_path, {"dataset": "x", "data": data}))


def test_bad_projection_init(tmp_path):
    with pytest.raises(ConfigError, match=r"training\.projection_init: expected torch, bert or xavier, got 'glorot'"):
        load_profile(write(tmp_path, {"dataset": "x", "training": {"projection_init": "glorot"}}))


def test_bad_checkpoint_to_keep(tmp_path):
    with pytest.raises(ConfigError, match=r"training\.keep: expected best or last, got 'first'"):
        load_profile(write(tmp_path, {"dataset": "x", "training": {"keep": "first"}}))


def test_bad_dataset_name_and_missing_profile(tmp_path):
    with pytest.raises(ConfigError, match="dataset: expected a folder name"):
        load_profile(write(tmp_path, {"dataset": "../escape"}))
    with pytest.raises(ConfigError, match=r"no profile 'nope'.*profiles: \["):
        load_profile("nope")


@pytest.mark.parametrize("name", PROFILES)
def test_shipped_profiles_plan(name):
    """Every shipped profile plans (shapes, sizes, methods, notebook parameters) without error."""
    from drscaling.grid import SWEEPS, plan_grid
    from drscaling.notebook_runner import check_profile

    profile = load_profile(name)
    check_profile(profile)
    planned = plan_grid(profile, "k" * 64, sweeps=SWEEPS)
    assert len({p.run_id for p in planned}) == len(planned)


def test_cpu_profile_keeps_the_design_of_issue_11():
    """The default study's grid as research/design-log.md records choosing it: every sweep goes over
    its D at least 2.5 times; at least 6 model sizes over 1.5 decades of N and 6 data sizes over
    1.5 decades of D, each with 2 seeds; a joint grid of at least 12 (N, D) points; the
    annotation study at least 5 D per method with 2 seeds."""
    import math

    from drscaling.grid import SWEEPS, plan_grid, plan_warnings
    from drscaling.model import DualEncoder, count_nonembedding_params

    planned = plan_grid(load_profile("cpu"), "k" * 64, sweeps=SWEEPS)
    assert plan_warnings(planned) == []

    def points(sweep):
        return [p.spec for p in planned if sweep in p.sweeps]

    shapes = {(s.model["layers"], s.model["hidden"]) for s in points("model_size")}
    n = [count_nonembedding_params(DualEncoder.from_shape(layers, hidden, 8192)) for layers, hidden in shapes]
    assert len(shapes) >= 6 and math.log10(max(n) / min(n)) >= 1.5
    d = {s.n_train for s in points("data_size")}
    assert len(d) >= 6 and math.log10(max(d) / min(d)) >= 1.5
    for sweep in ("model_size", "data_size", "annotation"):
        seeds: dict = {}
        for s in points(sweep):
            seeds.setdefault((s.annotation_label, s.model_name, s.n_train), set()).add(s.seed)
        assert min(len(v) for v in seeds.values()) >= 2, sweep
    assert len({(s.model_name, s.n_train) for s in points("joint")}) >= 12
    per_method: dict = {}
    for s in points("annotation"):
        per_method.setdefault(s.annotation_label, set()).add(s.n_train)
    assert len(per_method) >= 3 and min(len(v) for v in per_method.values()) >= 5
