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


def test_bad_dataset_name_and_missing_profile(tmp_path):
    with pytest.raises(ConfigError, match="dataset: expected a folder name"):
        load_profile(write(tmp_path, {"dataset": "../escape"}))
    with pytest.raises(ConfigError, match=r"no profile 'nope'.*profiles: \["):
        load_profile("nope")
