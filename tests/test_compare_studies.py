"""scripts/compare_studies.py: two studies that differ only in timing and provenance are the same;
a changed metric, a changed fitted value or a missing file is reported."""

import importlib.util
import json

import pandas as pd

from drscaling import paths

spec = importlib.util.spec_from_file_location("compare_studies", paths.ROOT / "scripts" / "compare_studies.py")
compare_studies = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare_studies)


def study(folder, cll=3.0, seconds=10.0, alpha=0.5, commit="a"):
    (folder / "tables").mkdir(parents=True)
    pd.DataFrame({"run_id": ["r1", "r2"], "cll_test": [cll, 2.5], "train_seconds": [seconds, 7.0],
                  "provenance.commit": [commit, commit]}).to_csv(folder / "results.csv", index=False)
    pd.DataFrame({"law": ["model_size"], "alpha": [alpha]}).to_csv(folder / "tables" / "laws.csv", index=False)
    (folder / "fits.json").write_text(json.dumps({"laws": {"model_size": {"alpha": alpha}}, "made": commit}))
    return folder


def test_timing_and_provenance_do_not_count(tmp_path, capsys):
    a = study(tmp_path / "a")
    b = study(tmp_path / "b", seconds=12.5, commit="b")
    assert all(why is None for _, why in compare_studies.compare(a, b))
    assert compare_studies.main([str(a), str(b)]) == 0
    assert "results.csv: same" in capsys.readouterr().out


def test_a_changed_result_is_reported(tmp_path):
    a = study(tmp_path / "a")
    rows = dict(compare_studies.compare(a, study(tmp_path / "b", cll=3.0001)))
    assert "cll_test" in rows["results.csv"] and rows["fits.json"] is None
    rows = dict(compare_studies.compare(a, study(tmp_path / "c", alpha=0.51)))
    assert rows["fits.json"] is not None and "alpha" in rows["tables/laws.csv"]
    c = study(tmp_path / "d")
    (c / "fits.json").unlink()
    assert "missing" in dict(compare_studies.compare(a, c))["fits.json"]
    assert compare_studies.main([str(a), str(c)]) == 1
