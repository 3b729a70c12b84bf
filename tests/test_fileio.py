"""save_table: the notebooks' one way to write a table (CSV, atomically)."""

import pandas as pd

from drscaling.fileio import save_table


def test_save_table_writes_atomically_and_keeps_the_index_when_asked(tmp_path):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}, index=["r1", "r2"])
    path = save_table(frame, tmp_path / "tables" / "t.csv")
    assert pd.read_csv(path).to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}
    save_table(frame, path, index=True)
    assert pd.read_csv(path, index_col=0).index.tolist() == ["r1", "r2"]
    assert [p.name for p in path.parent.iterdir()] == ["t.csv"]  # no temporary file left
