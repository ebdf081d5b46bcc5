"""Reading inputs, the producer side of `ingest` and `enqueue`: `expand_paths` and `read_dumps`
over a folder of small files, without cleaning or storing them. Prints one JSON line.

    .venv/bin/python bench/inputs.py --n 20000            # the e2e benchmark's text dumps
    .venv/bin/python bench/inputs.py --n 20000 --kind html

The files are written once into --folder (kept between runs, so the page cache is warm for each
timing); the best of --repeat runs is reported, in µs per file.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e import build_pages

from worker.inputs import expand_paths, read_dumps


def _write(folder: Path, kind: str, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if len(list(folder.iterdir())) == n:
        return
    for index, page in enumerate(build_pages(kind, n)):
        suffix = ".html" if page.get("content_type") == "text/html" else ".txt"
        path = folder / f"{index:07d}{suffix}"
        if page.get("content_encoding") == "base64":
            path.write_bytes(base64.b64decode(page["content"]))
        else:
            path.write_text(page["content"], encoding="utf-8")


def main() -> None:
    """Write the files if needed, then time reading them."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--kind", choices=["text", "html"], default="text")
    parser.add_argument(
        "--folder", type=Path, default=Path(tempfile.gettempdir()) / "newsingest-bench-inputs"
    )
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    folder = args.folder / f"{args.kind}-{args.n}"
    _write(folder, args.kind, args.n)
    best = float("inf")
    for _ in range(args.repeat):
        started = time.perf_counter()
        count = sum(
            1 for _ in read_dumps(expand_paths([str(folder)]), source="b", max_page_bytes=5 << 20)
        )
        best = min(best, time.perf_counter() - started)
    print(
        json.dumps(
            {"files": count, "seconds": round(best, 3), "us_per_file": round(best / count * 1e6, 1)}
        )
    )


if __name__ == "__main__":
    main()
