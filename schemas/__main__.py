"""Write the JSON Schema files for the wire contracts: `python -m schemas [--check]`."""

from __future__ import annotations

import sys

from schemas._export import check_schema_files, write_schema_files

if __name__ == "__main__":
    if "--check" in sys.argv[1:]:
        stale = check_schema_files()
        for path in stale:
            print(f"out of date: {path}", file=sys.stderr)
        sys.exit(1 if stale else 0)
    for path in write_schema_files():
        print(f"wrote {path}")
