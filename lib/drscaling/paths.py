"""Where things live, resolved from the project root (never from the working directory).

Two environment variables move the generated trees elsewhere (the tests use them to keep
their runs out of the project): ``DRSCALING_DATA`` (default ``<root>/data``) and
``DRSCALING_OUTPUTS`` (default ``<root>/outputs``). ``DRSCALING_DATASETS`` names the folder
of shared raw datasets (default ``<root>/../shared/datasets``).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"
NOTEBOOKS = ROOT / "notebooks"


def _from_env(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).resolve() if value else default


def data_dir() -> Path:
    return _from_env("DRSCALING_DATA", ROOT / "data")


def raw_dir() -> Path:
    """Downloaded or hand-placed source files (immutable once there)."""
    return data_dir() / "raw"


def processed_dir(dataset: str) -> Path:
    """Everything data preparation generates for one dataset name."""
    return data_dir() / "processed" / dataset


def outputs_dir(profile: str) -> Path:
    """Executed notebooks, runs, tables, fits and figures of one profile."""
    return _from_env("DRSCALING_OUTPUTS", ROOT / "outputs") / profile


def shared_datasets() -> Path:
    return _from_env("DRSCALING_DATASETS", ROOT.parent / "shared" / "datasets")


def resolve(path: str | Path) -> Path:
    """A path from a profile: absolute as given, relative to the project root otherwise.

    A leading ``$DATASETS`` stands for :func:`shared_datasets`.
    """
    text = str(path)
    if text.startswith("$DATASETS"):
        return (shared_datasets() / text[len("$DATASETS"):].lstrip("/")).resolve()
    p = Path(text).expanduser()
    return p if p.is_absolute() else (ROOT / p).resolve()
