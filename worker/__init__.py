"""newsingest's worker side: the pipeline, the store, the Celery app and the CLI.

Errors that cross module boundaries:

    NewsingestError             base of everything newsingest raises on purpose
    ├── ConfigError             a setting is missing or malformed (exit code 2 in the CLI)
    │   └── UnreadableInput     a file named as input could not be read (exit code 2)
    └── ServiceUnavailable      PostgreSQL or the broker cannot be reached (exit code 3)

A page that cannot be ingested is never an exception: stages return a `Rejection`, and the store
records it with the page's raw content.
"""

from worker.errors import ConfigError, NewsingestError, ServiceUnavailable, UnreadableInput

__all__ = ["ConfigError", "NewsingestError", "ServiceUnavailable", "UnreadableInput"]
