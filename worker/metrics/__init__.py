"""Prometheus metrics of a worker: off unless NEWSINGEST_METRICS_PORT is set.

prometheus_client's multiprocess mode, fitted to Celery's prefork pool (app.py wires the signals):
- `prepare`, at `worker_init` in the worker's main process before the pool forks, makes a fresh
  directory, names it in PROMETHEUS_MULTIPROC_DIR and only then imports prometheus_client (which
  chooses its multiprocess values at import) and defines the metrics;
- every process (pool processes, and the main one, which records the messages it refuses unread)
  counts into memory-mapped files of its own in that directory. A process that dies leaves its
  files there, so the totals survive a pool process that was killed or replaced;
- `serve`, at `worker_ready` (the pool is running, so its processes do not inherit the listening
  socket), serves /metrics from the main process: the files of every process summed, and queue
  depths read from Redis when scraped;
- a pool process marks itself dead as it exits (`process_exiting`), and one that was killed is
  marked at the next scrape: its live gauges (batches in progress) stop counting.

When metrics are off, `recorder()` returns None: the hot path pays for that call and an `is None`,
and prometheus_client is never imported.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from worker.config import Settings

if TYPE_CHECKING:
    from worker.metrics._prometheus import Exposition, Recorder

__all__ = ["prepare", "process_exiting", "recorder", "serve", "stop"]

log = structlog.get_logger(__name__)

# The directory's name says which worker made it, so one left by a killed worker can be swept.
_DIR_PREFIX = "newsingest-metrics-"

_recorder: Recorder | None = None
_directory: Path | None = None
_exposition: Exposition | None = None


def recorder() -> Recorder | None:
    """Where this process counts what it does; None when metrics are off."""
    return _recorder


def prepare(settings: Settings) -> None:
    """Set up multiprocess metrics in the worker's main process, before its pool forks.

    Does nothing when NEWSINGEST_METRICS_PORT is unset.
    """
    global _recorder, _directory  # noqa: PLW0603 - one set of metrics per worker process tree
    if settings.metrics_port is None or _recorder is not None:
        return
    _sweep_directories()
    _directory = Path(tempfile.mkdtemp(prefix=f"{_DIR_PREFIX}{os.getpid()}-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_directory)
    from worker.metrics._prometheus import Recorder  # noqa: PLC0415 - after the variable is set

    _recorder = Recorder(settings)


def serve(settings: Settings) -> None:
    """Serve /metrics on the configured host and port, from the worker's main process."""
    global _exposition  # noqa: PLW0603
    if _recorder is None or _directory is None or _exposition is not None:
        return
    from worker.metrics._prometheus import Exposition  # noqa: PLC0415

    try:
        _exposition = Exposition(settings, directory=_directory)
    except OSError as exc:
        # The worker goes on ingesting: losing its metrics is better than losing its work.
        log.error(
            "metrics_not_served",
            host=settings.metrics_host,
            port=settings.metrics_port,
            error=repr(exc),
        )
        return
    log.info("metrics_served", host=settings.metrics_host, port=settings.metrics_port)


def process_exiting() -> None:
    """Mark this pool process dead, as it exits: its live gauges stop counting."""
    if _recorder is not None:
        _recorder.process_exiting()


def stop() -> None:
    """Stop serving and remove this worker's metrics directory, as the worker shuts down."""
    global _exposition, _directory  # noqa: PLW0603
    if _exposition is not None:
        _exposition.close()
        _exposition = None
    if _directory is not None:
        shutil.rmtree(_directory, ignore_errors=True)
        _directory = None


def _sweep_directories() -> None:
    # A worker that was killed never removed its directory; one whose maker is gone is removed.
    for path in Path(tempfile.gettempdir()).glob(f"{_DIR_PREFIX}*"):
        pid = path.name.removeprefix(_DIR_PREFIX).partition("-")[0]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def process_alive(pid: int) -> bool:
    """Whether a process with this id is running (or not yet reaped) on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
