"""Run the study's notebooks with papermill: explicit kernel, parameters from the profile,
unknown parameters and parameters of the wrong type rejected, executed copy written to
``outputs/<profile>/notebooks/``."""

from __future__ import annotations

import ast
import os
from numbers import Real
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


def study_notebooks() -> list[str]:
    """The study's notebooks in the order `make reproduce` runs them (``NN_name``)."""
    return sorted(p.stem for p in paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


class _Unchecked:
    """A declared default that is not a Python literal (an expression): any value is accepted."""


def declared_parameters(path: Path) -> set[str]:
    """The names assigned in the notebook's cell tagged ``parameters``."""
    return set(declared_defaults(path))


def declared_defaults(path: Path) -> dict[str, object]:
    """Name -> default value assigned in the notebook's ``parameters`` cell (papermill gives
    the default's source text; a default that is no literal maps to ``_Unchecked``)."""
    import papermill

    out: dict[str, object] = {}
    for name, info in papermill.inspect_notebook(str(path)).items():
        try:
            out[name] = ast.literal_eval(str(info.get("default")))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            out[name] = _Unchecked
    return out


def _is_number(v) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool)


def _as_float(v):
    """A number, or a string that reads as one (YAML 1.1 reads ``30e12``, without a dot, as a
    string): a float; anything else: None."""
    if _is_number(v):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def check_parameter_type(value, default):
    """``value`` as the notebook should receive it, given the declared ``default``; raises
    ``TypeError`` (its message: what was expected) when the types differ.

    A None default (or one that is no literal) accepts anything; a float default accepts ints
    and numeric strings (converted to float); an int default wants an int, a bool default a
    bool; a list default a list, whose items must be numbers (or strings) where the default's
    items all are; a dict default a mapping."""
    if default is None or default is _Unchecked:
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise TypeError("true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("an integer")
        return value
    if isinstance(default, float):
        f = None if isinstance(value, bool) else _as_float(value)
        if f is None:
            raise TypeError("a number")
        return value if _is_number(value) else f
    if isinstance(default, str):
        if not isinstance(value, str):
            raise TypeError("a string")
        return value
    if isinstance(default, (list, tuple)):
        if not isinstance(value, (list, tuple)):
            raise TypeError("a list")
        if default and all(_is_number(d) for d in default):
            items = [None if isinstance(v, bool) else _as_float(v) for v in value]
            bad = [v for v, f in zip(value, items) if f is None]
            if bad:
                raise TypeError(f"a list of numbers ({bad[0]!r} is not one)")
            return [v if _is_number(v) else f for v, f in zip(value, items)]
        if default and all(isinstance(d, str) for d in default):
            bad = [v for v in value if not isinstance(v, str)]
            if bad:
                raise TypeError(f"a list of strings ({bad[0]!r} is not one)")
        return list(value)
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise TypeError("a mapping")
        return value
    return value


def check_profile(profile: Profile) -> None:
    """Everything about ``profile`` that can be checked before any stage runs, so that a typo
    for a late stage fails the first one, before hours of work: every ``notebooks.<name>``
    entry (names and types) and the grid's plan (shapes, n_train among data.subset_sizes,
    annotation methods). Raises :class:`ConfigError`."""
    from .grid import SWEEPS, plan_grid

    for listed in profile.notebooks:
        notebook_parameters(profile, listed)
    try:
        plan_grid(profile, "not-yet-prepared", sweeps=SWEEPS)
    except ConfigError:
        raise
    except ValueError as e:
        raise ConfigError(str(e)) from None


def notebook_parameters(profile: Profile, name: str) -> dict:
    """``profile`` (how the notebook finds the profile again) plus the profile's
    ``notebooks.<name>`` entries; each must be a parameter the notebook declares, of the type
    of its declared default (see :func:`check_parameter_type`)."""
    known = sorted(p.stem for p in paths.NOTEBOOKS.glob("*.ipynb"))
    for listed in profile.notebooks:  # a typo in a notebook name is an error too
        if listed not in known:
            raise ConfigError(f"{profile.path}: notebooks.{listed}: no notebook {listed!r} (notebooks: {known})")
    path = notebook_path(name)
    in_configs = profile.path is not None and profile.path.parent.resolve() == paths.CONFIGS.resolve()
    params = {"profile": profile.name if in_configs else str(profile.path), **profile.notebooks.get(name, {})}
    defaults = declared_defaults(path)
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ConfigError(
            f"{profile.path}: notebooks.{name}: {unknown} not a parameter of notebook {path.name} "
            f"(its parameters cell declares {sorted(defaults)})"
        )
    for key, value in list(params.items()):
        try:
            params[key] = check_parameter_type(value, defaults[key])
        except TypeError as e:
            raise ConfigError(
                f"{profile.path}: notebooks.{name}.{key}: expected {e}, like the default {defaults[key]!r} "
                f"declared in the parameters cell of {path.name}; got {value!r}"
            ) from None
    return params


def run_notebook(name: str, profile: str | Path | Profile, kernel: str = KERNEL, progress: bool = False) -> Path:
    """Execute ``notebooks/<name>.ipynb`` for ``profile``; return the executed copy's path.

    The whole profile is checked first (:func:`check_profile`): a bad parameter of a later
    notebook, or a bad grid, stops the first stage already, before anything is written.
    The copy appears only when the run succeeds; a failed run leaves ``<name>.failed.ipynb``
    beside it, with the error in place, and raises. ``progress`` shows a bar over the cells
    and echoes what the cells print (through the ``papermill`` logger).
    """
    import papermill

    if not isinstance(profile, Profile):
        profile = load_profile(profile)
    check_profile(profile)
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
