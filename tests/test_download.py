import pytest

from drscaling.datasets.download import SourceNotFoundError, find_file, find_or_download


def test_search_order_and_gz(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (b / "train.json").write_text("{}")
    (a / "train.json.gz").write_bytes(b"x")
    assert find_file("train.json", [a, b]) == a / "train.json.gz"
    assert find_file("train.json", [b, a]) == b / "train.json"
    assert find_file("dev.json", [a, b]) is None


def test_download_when_missing(tmp_path):
    """The real download code, fed by a file:// URL (no network in tests)."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "dev-v1.1.json").write_text('{"data": []}')
    dest = tmp_path / "raw"
    got = find_or_download("dev-v1.1.json", [tmp_path / "nowhere"], mirror.as_uri(), dest)
    assert got == dest / "dev-v1.1.json" and got.read_text() == '{"data": []}'
    assert [p.name for p in dest.iterdir()] == ["dev-v1.1.json"]  # no temporary left behind
    # found on disk now: no second download
    (mirror / "dev-v1.1.json").unlink()
    assert find_or_download("dev-v1.1.json", [dest], mirror.as_uri(), dest) == got


def test_offline_message_names_url_and_folder(tmp_path):
    url = (tmp_path / "unreachable").as_uri()
    with pytest.raises(SourceNotFoundError) as err:
        find_or_download("train-v1.1.json", [tmp_path / "x"], url, tmp_path / "raw" / "squad")
    msg = str(err.value)
    assert f"{url}/train-v1.1.json" in msg and str(tmp_path / "raw" / "squad") in msg and "by hand" in msg
    assert not (tmp_path / "raw" / "squad" / "train-v1.1.json").exists()


def test_no_url_configured(tmp_path):
    with pytest.raises(SourceNotFoundError, match="no download URL is configured"):
        find_or_download("collection.tsv", [tmp_path], None, tmp_path / "raw")
