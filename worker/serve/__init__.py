"""`newsingest serve`: the read-only status page for operators (Flask app in `worker.serve.app`,
imported by the command only, so that the rest of the CLI starts without Flask)."""

from worker.serve.cli import register

__all__ = ["register"]
