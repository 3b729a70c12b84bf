"""Run the study's notebooks with papermill: explicit kernel, parameters from the profile,
unknown parameters rejected, executed copy written to ``outputs/<profile>/notebooks/``."""

from __future__ import annotations

import os
from pathlib import Path

from . import paths
from .config import ConfigError, Profile, load_profile

KERNEL = "drscaling"  # installed into the virtual environment by `make venv`


def notebook_path(name: str) -> Path:
    path = paths.NOTEBOOKS / f"{name}.ipynb"
    if not path.is_file():
        known = sorted(p.stem for p in paths.NOTEBOOKS.glob("*.ipynb"))
        raise FileNotFoundError(f"no notebook {name!r}: {path} does not exist (notebooks: {known})")
    return path


def declared_parameters(path: Path) -> set[str]:
    """The names assigned in the notebook's cell tagged ``parameters``."""
    import papermill

    return set(papermill.inspect_notebook(str(path)))


def notebook_parameters(profile: Profile, name: str) -> dict:
    """``profile`` (how the notebook finds the profile again) plus the profile's
    ``notebooks.<name>`` entries; each must be a parameter the notebook declares."""
    for listed in profile.notebooks:
        notebook_path(listed)  # a typo in a notebook name is an error too
    path = notebook_path(name)
    in_configs = profile.path is not None and profile.path.parent.resolve() == paths.CONFIGS.resolve()
    params = {"profile": profile.name if in_configs else str(profile.path), **profile.notebooks.get(name, {})}
    declared = declared_parameters(path)
    unknown = sorted(set(params) - declared)
    if unknown:
        raise ConfigError(
            f"{profile.path}: notebooks.{name}: {unknown} not a parameter of notebook {path.name} "
            f"(its parameters cell declares {sorted(declared)})"
        )
    return params


def run_notebook(name: str, profile: str | Path | Profile, kernel: str = KERNEL, progress: bool = False) -> Path:
    """Execute ``notebooks/<name>.ipynb`` for ``profile``; return the executed copy's path.

    The copy appears only when the run succeeds; a failed run leaves ``<name>.failed.ipynb``
    beside it, with the error in place, and raises. ``progress`` shows a bar over the cells
    and echoes what the cells print (through the ``papermill`` logger).
    """
    import papermill

    if not isinstance(profile, Profile):
        profile = load_profile(profile)
    params = notebook_parameters(profile, name)
    out_dir = profile.outputs_dir / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    final, failed = out_dir / f"{name}.ipynb", out_dir / f"{name}.failed.ipynb"
    tmp = out_dir / f".{name}.running.ipynb"
    try:
        papermill.execute_notebook(
            str(notebook_path(name)), str(tmp), parameters=params, kernel_name=kernel,
            cwd=str(paths.NOTEBOOKS), progress_bar=progress, log_output=progress,
        )
    except BaseException:
        if tmp.exists():
            os.replace(tmp, failed)
        raise
    os.replace(tmp, final)
    if failed.exists():
        failed.unlink()
    return final
