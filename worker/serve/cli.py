"""The `newsingest serve` command: the status page on waitress."""

from __future__ import annotations

from typing import Annotated

import typer

from worker._console import err


def register(app: typer.Typer) -> None:
    """Add the `serve` command to the `newsingest` app."""
    app.command("serve")(serve)


def serve(
    host: Annotated[
        str,
        typer.Option(help="Address to listen on; 0.0.0.0 only behind a trusted network or proxy."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8080,
    threads: Annotated[int, typer.Option(min=1, max=64, help="Requests served at once.")] = 4,
) -> None:
    """Serve the read-only status page: regions, stories, sources, rejections and queues."""
    import waitress  # noqa: PLC0415 - keeps `--help` fast

    from worker.config import get_settings  # noqa: PLC0415
    from worker.serve.app import create_app  # noqa: PLC0415

    settings = get_settings()
    page = create_app(settings, threads=threads)
    err.print(
        f"status page on http://{host}:{port}/ (read-only, as {page.config['NEWSINGEST_LOGIN']})"
    )
    # A GET-only page: small header and body limits, and no trust in forwarding headers.
    waitress.serve(
        page,
        host=host,
        port=port,
        threads=threads,
        ident="newsingest",
        max_request_header_size=16 * 1024,
        max_request_body_size=16 * 1024,
        clear_untrusted_proxy_headers=True,
        _quiet=True,
    )
