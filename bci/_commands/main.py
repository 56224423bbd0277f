"""The ``bci`` console script: one thin module per subcommand."""

from __future__ import annotations

import typer

from . import sys_info, validate
from ._common import LOG_LEVEL_OPTION, LogLevel, not_built, setup_logging

app = typer.Typer(
    name="bci",
    help="bci-runtime: real-time, closed-loop brain-computer interfaces.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _main(log_level: LogLevel = LOG_LEVEL_OPTION) -> None:
    """Real-time, closed-loop BCI runtime: stream, record, replay, decode, calibrate, stimulate."""
    setup_logging(log_level)


def _register() -> None:
    """Attach every subcommand; a module that is not built yet registers a placeholder."""
    import importlib

    commands = {
        "run": ("run", "real-time runtime"),
        "stream": ("stream", "streams"),
        "record": ("record", "streams"),
        "replay": ("replay", "streams"),
        "devices": ("devices", "streams"),
        "calibrate": ("calibrate", "per-user calibration"),
        "evaluate": ("evaluate", "pseudo-online scoring"),
        "pretrain": ("pretrain", "foundation model"),
        "export": ("export", "foundation model"),
        "export-bids": ("export_bids", "BIDS export"),
        "bench": ("bench", "benchmarks"),
        "view": ("view", "live view"),
        "check": ("check", "signal quality"),
    }
    app.command("validate")(validate.validate)
    app.command("sys-info")(sys_info.sys_info)
    for name, (module, issue) in commands.items():
        try:
            mod = importlib.import_module(f"{__package__}.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{module}":
                raise
            app.command(name, help=f"(not built yet) {issue}")(not_built(name, issue))
        else:
            app.command(name)(getattr(mod, module))


_register()


def run() -> None:
    """Entry point of the ``bci`` console script."""
    app()
