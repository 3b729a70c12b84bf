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


def test_atomic_writes_get_the_permissions_of_a_plain_file(tmp_path):
    """mkstemp makes its temporary private (0600); the file written through it must not stay so
    (a report or a table is meant to be shared)."""
    import os

    from drscaling.fileio import write_json, write_text

    mask = os.umask(0o022)
    try:
        write_text(tmp_path / "report.html", "<html></html>")
        write_json(tmp_path / "fits.json", {"a": 1})
        plain = tmp_path / "plain.txt"
        plain.write_text("x")
    finally:
        os.umask(mask)
    for name in ("report.html", "fits.json"):
        assert (tmp_path / name).stat().st_mode & 0o777 == plain.stat().st_mode & 0o777 == 0o644
