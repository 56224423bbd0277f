"""``bci view``: the live view of a session or of any LSL stream, in the browser."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import cli_errors


def view(
    stream: Annotated[
        str | None,
        typer.Option(
            "--stream",
            help="LSL signal stream to show (default: the session's, "
            "or the first regular stream on the network).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Session YAML: its streams, budgets and required channels."),
    ] = None,
    port: Annotated[int, typer.Option("--port", help="TCP port (0 picks a free one).")] = 8080,
    host: Annotated[
        str, typer.Option("--host", help="Address to serve on; off loopback needs --expose.")
    ] = "127.0.0.1",
    expose: Annotated[
        bool,
        typer.Option(
            "--expose",
            help="Allow a non-loopback --host: the page then needs a token "
            "(printed in the URL), since it shows raw signals.",
        ),
    ] = False,
    token: Annotated[
        str | None, typer.Option("--token", help="Token to require (default: a random one).")
    ] = None,
) -> None:
    """Serve the live view (traces, spectra, quality, decisions, latency) until Ctrl-C."""
    import secrets

    from .._errors import ConfigError
    from .._view import ViewServer, ViewSettings, is_loopback, settings_from_session

    with cli_errors():
        if not is_loopback(host):
            if not expose:
                raise ConfigError(
                    f"--host {host} would serve raw signals beyond this machine; add --expose "
                    "to do so on purpose (the page then needs a token)"
                )
            token = token or secrets.token_urlsafe(16)
        kw = {"host": host, "port": port, "token": token}
        if stream is not None:
            kw["signal"] = stream
        if config is not None:
            from ..config import load_config

            settings = settings_from_session(load_config(config), **kw)
        else:
            settings = ViewSettings(**kw)
        from .._view._server import lower_priority, quiet_liblsl

        quiet_liblsl()
        lower_priority()  # a session on this machine wins a contended core
        server = ViewServer(settings).start()
        typer.echo(f"live view: {server.url}  (Ctrl-C stops it)")
        try:
            server.wait()
        finally:
            server.stop()
