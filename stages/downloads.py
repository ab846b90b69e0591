"""Resolving a data location: a local file, or an http(s) URL downloaded once into a cache."""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path

log = logging.getLogger(__name__)

DOWNLOAD_DIR = Path("data/downloads")


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def fetch(location: str, cache_dir: Path = DOWNLOAD_DIR, timeout: float = 60.0) -> Path:
    """Return a local path for ``location``, downloading a URL on first use.

    The download goes to a temporary file that is renamed on success, so an interrupted
    download never leaves a truncated file that later runs would trust.
    """
    if not is_url(location):
        path = Path(location)
        if not path.exists():
            raise FileNotFoundError(f"data file not found: {location!r} (resolved to {path.resolve()})")
        return path

    digest = hashlib.sha256(location.encode()).hexdigest()[:12]
    target = cache_dir / f"{digest}-{Path(location.split('?')[0]).name or 'download'}"
    if target.exists():
        return target

    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    log.info("downloading %s to %s", location, target)
    try:
        with urllib.request.urlopen(location, timeout=timeout) as response, tmp.open("wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
    except (urllib.error.URLError, TimeoutError) as error:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(
            f"download failed for {location}: {error}. Check the URL or point the param at a local copy."
        ) from error
    os.replace(tmp, target)
    return target
