"""HTML pages as a text-mode crawl stores them: rendered by w3m, cached between runs.

    w3m -dump -cols 120 -T text/html -I UTF-8 -O UTF-8

as the Scrapinghub text dumps in ../shared/data were made. The dumps are kept under the system's
temporary folder (never in the repository: they are third-party pages), one file per key.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["available", "render"]

_CACHE = Path(tempfile.gettempdir()) / "newsingest-w3m-dumps"
_COMMAND = ("w3m", "-dump", "-cols", "120", "-T", "text/html", "-I", "UTF-8", "-O", "UTF-8")


def available() -> bool:
    """Say whether the w3m program is installed (apt-get install w3m)."""
    return shutil.which("w3m") is not None


def render(key: str, page: str) -> str:
    """A page's HTML -> its w3m text dump, cached under `key` (its URL, say)."""
    _CACHE.mkdir(exist_ok=True)
    cached = _CACHE / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".txt")
    if not cached.is_file():
        rendered = subprocess.run(
            _COMMAND,
            input=page.encode("utf-8", "replace"),
            capture_output=True,
            timeout=60,
            check=False,  # a page w3m cannot render gives what it printed, perhaps nothing
        )
        cached.write_bytes(rendered.stdout)
    return cached.read_text("utf-8", errors="replace")
