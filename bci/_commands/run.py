"""``bci run``: run a session from a config (default: the simulated participant)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import cli_errors


def run(
    config: Annotated[
        Path | None, typer.Argument(help="Session YAML (default: configs/default.yaml).")
    ] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", help="Stop after S seconds (default: Ctrl-C).")
    ] = None,
    decoder: Annotated[
        str | None, typer.Option("--decoder", help="ONNX file or `bci calibrate` output folder.")
    ] = None,
    live: Annotated[
        bool, typer.Option("--live/--no-live", help="Live status table in the terminal.")
    ] = True,
) -> None:
    """Decode a live session: stream, decode, publish on LSL/MQTT, record to XDF."""
    import logging

    from .._runtime._status import status_table, summary_lines
    from .._session import SessionResult, run_session
    from ..config import SessionConfig, load_config, shipped_config

    with cli_errors():
        if config is None:
            cfg = load_config(shipped_config("default.yaml"))
        else:
            cfg = load_config(config, SessionConfig)
        on_metrics = None
        live_view = None
        if live:
            from rich.console import Console
            from rich.live import Live

            console = Console(stderr=True)
            if console.is_terminal:
                from rich.logging import RichHandler

                root = logging.getLogger()
                level = root.level
                for h in list(root.handlers):  # log lines go above the live table, not through it
                    root.removeHandler(h)
                root.addHandler(RichHandler(console=console, show_path=False, level=level))
                live_view = Live(console=console, auto_refresh=False, transient=True)
                live_view.start()

                def on_metrics(snap: dict) -> None:
                    live_view.update(status_table(snap), refresh=True)

            else:  # not a terminal: one log line per metrics interval instead
                log = logging.getLogger("bci.run")

                def on_metrics(snap: dict) -> None:
                    p = snap["latency_ms"]["decision"]
                    log.info(
                        "%.1f decisions/s, decision latency p50 %s p99 %s ms, overruns %d",
                        snap["decisions_per_s"],
                        p["p50"],
                        p["p99"],
                        snap["counters"]["overruns"],
                    )

        try:
            result = run_session(cfg, duration=duration, decoder=decoder, on_metrics=on_metrics)
        finally:
            if live_view is not None:
                live_view.stop()
        if isinstance(result, SessionResult):
            for line in summary_lines(result.summary):
                typer.echo(line)
            if "paradigm" in result.summary:
                from bci.stimuli._paradigm import selection_lines

                for line in selection_lines(result.summary["paradigm"]):
                    typer.echo(line)
            if result.mqtt:
                typer.echo(
                    f"  MQTT port {result.mqtt_port}: sent {result.mqtt['sent']}, unsent "
                    f"{result.mqtt['unsent']}, reconnects {result.mqtt['reconnects']}"
                )
            if result.recording is not None:
                typer.echo(f"recording: {result.recording}")
        else:
            typer.echo(f"closed-loop report: {result}")
