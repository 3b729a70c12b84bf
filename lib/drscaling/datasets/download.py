"""Find a raw source file in the configured folders, or download it from its official URL."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from ..fileio import atomic_path

logger = logging.getLogger(__name__)


class SourceNotFoundError(FileNotFoundError):
    """A raw file is neither on disk nor downloadable; the message says where to put it."""


def find_file(name: str, search_dirs: list[Path]) -> Path | None:
    """The first ``dir/name`` or ``dir/name.gz`` that exists, in the order given."""
    for d in search_dirs:
        for candidate in (Path(d) / name, Path(d) / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def download(url: str, dest: Path, timeout: float = 60.0) -> Path:
    """Fetch ``url`` to ``dest`` atomically, with a progress bar."""
    with urllib.request.urlopen(url, timeout=timeout) as response, atomic_path(dest) as tmp:
        total = int(response.headers.get("Content-Length") or 0) or None
        with open(tmp, "wb") as f, tqdm(total=total, unit="B", unit_scale=True, desc=f"download {dest.name}") as bar:
            while block := response.read(1 << 20):
                f.write(block)
                bar.update(len(block))
    return dest


def find_or_download(name: str, search_dirs: list[Path], download_url: str | None, download_dir: Path) -> Path:
    """Locate ``name`` (plain or ``.gz``) in ``search_dirs``; otherwise download
    ``<download_url>/<name>`` into ``download_dir``. Failing both, say where to put it by hand."""
    found = find_file(name, search_dirs)
    if found is not None:
        return found
    looked = ", ".join(str(d) for d in search_dirs)
    if not download_url:
        raise SourceNotFoundError(
            f"{name} (or {name}.gz) is in none of: {looked}; no download URL is configured. "
            f"Put the file in {download_dir} or name its folder in the profile's data.search_dirs."
        )
    url = f"{download_url.rstrip('/')}/{name}"
    logger.info(f"{name} not found in {looked}; downloading {url} to {download_dir}")
    try:
        return download(url, Path(download_dir) / name)
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise SourceNotFoundError(
            f"{name} (or {name}.gz) is in none of: {looked}, and downloading {url} failed ({e}). "
            f"If this machine is offline, download {url} by hand and put it in {download_dir} "
            f"(or name its folder in the profile's data.search_dirs)."
        ) from None
