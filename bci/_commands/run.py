"""``bci run``: run a session from a config (default: the simulated participant)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import ABORTED, cli_errors, cli_values


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
    view: Annotated[
        bool, typer.Option("--view", help="Also serve the live view (bci view) on 127.0.0.1.")
    ] = False,
    view_port: Annotated[
        int, typer.Option("--view-port", help="Port of the live view (0 picks a free one).")
    ] = 8080,
) -> None:
    """Decode a live session: stream, decode, publish on LSL/MQTT, record to XDF."""
    import logging

    from .._runtime._status import decision_rows, status_table, summary_lines
    from .._session import SessionResult, run_session
    from ..config import SessionConfig, load_config, shipped_config

    with cli_errors():
        if config is None:
            cfg = load_config(shipped_config("default.yaml"))
        else:
            cfg = load_config(config, SessionConfig)
        if duration is not None:  # the rules of the config key `duration` apply to the flag
            cfg = cli_values(SessionConfig, {"duration": duration}, {"duration": "--duration"}, cfg)
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
                    labels = "; ".join(f"{k} {v}" for k, v in decision_rows(snap))
                    log.info(
                        "%.1f decisions/s, decision latency p50 %s p99 %s ms, overruns %d%s",
                        snap["decisions_per_s"],
                        p["p50"],
                        p["p99"],
                        snap["counters"]["overruns"],
                        f"; {labels}" if labels else "",
                    )

        viewer = _start_view(cfg, view_port) if view else None
        try:
            result = run_session(cfg, duration=duration, decoder=decoder, on_metrics=on_metrics)
        finally:
            if live_view is not None:
                live_view.stop()
            if viewer is not None:
                viewer.stop()
        if isinstance(result, SessionResult):
            for line in summary_lines(result.summary):
                typer.echo(line)
            if "paradigm" in result.summary:
                from bci.stimuli._paradigm import selection_lines

                for line in selection_lines(result.summary["paradigm"]):
                    typer.echo(line)
            if result.mqtt:
                typer.echo(
                    f"  MQTT port {result.mqtt_port}: {result.mqtt['state']}, reconnects "
                    f"{result.mqtt['reconnects']}"
                )
            if result.recording is not None:
                typer.echo(f"recording: {result.recording}")
            if result.summary.get("paradigm", {}).get("aborted"):
                raise typer.Exit(ABORTED)
        else:
            typer.echo(f"closed-loop report: {result}")


def _start_view(cfg, port: int):  # noqa: ANN001, ANN202 - SessionConfig -> ChildProcess
    """The live view in a process of its own (it reads the session's LSL outlets only)."""
    import socket

    from .._child import ChildProcess
    from .._view import settings_from_session

    if port == 0:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    settings = settings_from_session(cfg, port=port).check()
    child = ChildProcess("bci._view", [settings.to_json()], "the live view").start(30.0)
    typer.echo(f"live view: http://127.0.0.1:{port}/", err=True)
    return child
