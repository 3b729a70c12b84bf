import json

import pandas as pd
import pytest
import yaml

from drscaling import paths
from drscaling.config import ConfigError, load_profile
from drscaling.notebooks import declared_parameters, notebook_parameters, run_notebook

NOTEBOOKS = sorted(paths.NOTEBOOKS.glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell["outputs"] and cell["execution_count"] is None, f"{path.name} has outputs"
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters'"
    assert "profile" in declared_parameters(path)


def test_unknown_notebook_parameter_names_key_and_notebook(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"dataset": "x", "notebooks": {"01_prepare_data": {"n_exampels": 2}}}))
    with pytest.raises(ConfigError, match=r"notebooks\.01_prepare_data: \['n_exampels'\] not a parameter of "
                                          r"notebook 01_prepare_data\.ipynb"):
        notebook_parameters(load_profile(path), "01_prepare_data")


def test_unknown_notebook_name(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"dataset": "x", "notebooks": {"01_prepare_dat": {}}}))
    with pytest.raises(FileNotFoundError, match="no notebook '01_prepare_dat'"):
        notebook_parameters(load_profile(path), "01_prepare_data")


def test_shipped_profiles_pass_only_declared_parameters():
    for yaml_path in paths.CONFIGS.glob("*.yaml"):
        if yaml_path.stem == "paper_reported":
            continue
        profile = load_profile(yaml_path.stem)
        for name in profile.notebooks:
            assert notebook_parameters(profile, name)["profile"] == profile.name


def test_notebook_01_on_smoke(shared_squad):
    executed = run_notebook("01_prepare_data", "smoke")
    profile = load_profile("smoke")
    assert executed == profile.outputs_dir / "notebooks" / "01_prepare_data.ipynb"
    nb = json.loads(executed.read_text())
    assert nb["metadata"]["papermill"]["parameters"] == {"profile": "smoke", "n_examples": 2}
    assert all(c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code")
    # what the notebook recorded agrees with the manifest it read
    table = pd.read_csv(profile.outputs_dir / "tables" / "data_statistics.csv", index_col="split")
    counts = json.loads((profile.processed_dir / "manifest.json").read_text())["counts"]
    for split in ("train", "validation", "test"):
        assert table.loc[split, "pairs"] == counts[f"{split}_pairs"]
    assert table.loc["corpus", "passages"] == counts["corpus"]
    assert (profile.outputs_dir / "figures" / "data_statistics.png").stat().st_size > 10_000


def test_failed_notebook_is_kept_aside(tmp_path, shared_squad):
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump({"dataset": "broken", "data": {"validation_groups": 100000}}))
    with pytest.raises(Exception, match="validation_groups"):
        run_notebook("01_prepare_data", path)
    out = paths.outputs_dir("broken") / "notebooks"
    assert (out / "01_prepare_data.failed.ipynb").exists() and not (out / "01_prepare_data.ipynb").exists()
