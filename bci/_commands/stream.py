"""``bci stream --board NAME``: publish a BrainFlow board (or the simulated participant) on LSL."""

from __future__ import annotations

from typing import Annotated

import typer

from ._common import check_duration, cli_errors


def stream(
    board: Annotated[
        str,
        typer.Option(
            help="BrainFlow board name or id (synthetic, cyton, muse_2, -1...), or 'simulated'."
        ),
    ] = "synthetic",
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="BrainFlowInputParams KEY=VALUE (serial_port=/dev/ttyUSB0, file=x.csv, master_board=-1); repeat.",
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="LSL stream name (default: the board's name).")
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: Ctrl-C).")
    ] = None,
) -> None:
    """Stream a board on LSL: one stream per channel kind with full metadata, plus a marker stream."""
    import logging
    import time

    from .._errors import ConfigError

    log = logging.getLogger("bci.stream")
    with cli_errors():
        check_duration(duration)
        params = {}
        for item in param or []:
            if "=" not in item:
                raise ConfigError(f"--param {item!r}: expected KEY=VALUE.")
            key, value = item.split("=", 1)
            params[key.strip()] = value.strip()
        if board == "simulated":
            from bci.devices.simulated import SimulatedParticipant  # lazy: the sim's package

            from ..config import SimulatedSourceConfig

            cfg = SimulatedSourceConfig(**({"name": name} if name else {}), **params)
            source = SimulatedParticipant(cfg)
        else:
            from bci.devices import BoardBrainFlow

            source = BoardBrainFlow(board, params=params, name=name)
            for s in source.specs:
                log.info(
                    "  %s (%s, %d ch @ %g Hz): %s",
                    s.name,
                    s.stype,
                    s.n_channels,
                    s.sfreq,
                    ", ".join(s.ch_names),
                )
        source.start()
        try:
            t_end = time.monotonic() + duration if duration else float("inf")
            while time.monotonic() < t_end:
                time.sleep(min(0.2, max(0.0, t_end - time.monotonic())))
                if getattr(source, "error", None) is not None:
                    raise source.error
        except KeyboardInterrupt:
            log.info("Interrupted.")
        finally:
            source.stop()
