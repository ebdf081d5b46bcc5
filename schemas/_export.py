"""Export the contracts' JSON Schema to `schemas/json/`, and tell when the files have drifted."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from schemas._models import Article, RawPage

JSON_DIR = Path(__file__).parent / "json"
CONTRACTS: dict[str, type[BaseModel]] = {"raw_page": RawPage, "article": Article}


def render_schema(model: type[BaseModel]) -> str:
    """The JSON Schema text of one model, as it is written to disk."""
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_schema_files() -> list[Path]:
    """Write every contract's schema file; returns the paths written."""
    JSON_DIR.mkdir(exist_ok=True)
    written = []
    for name, model in CONTRACTS.items():
        path = JSON_DIR / f"{name}.schema.json"
        path.write_text(render_schema(model), encoding="utf-8")
        written.append(path)
    return written


def check_schema_files() -> list[Path]:
    """The schema files that are missing or differ from the models."""
    stale = []
    for name, model in CONTRACTS.items():
        path = JSON_DIR / f"{name}.schema.json"
        if not path.exists() or path.read_text(encoding="utf-8") != render_schema(model):
            stale.append(path)
    return stale
