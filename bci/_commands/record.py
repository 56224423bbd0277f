"""``bci record -o FILE.xdf``: record LSL streams to a crash-safe XDF file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import cli_errors


def record(
    output: Annotated[Path, typer.Option("-o", "--output", help="The .xdf file to write.")],
    streams: Annotated[
        list[str] | None,
        typer.Option(
            "--streams",
            "-s",
            help="Stream name or LSL predicate (type='EEG'); repeat. Default: all.",
        ),
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="Seconds to record (default: until Ctrl-C).")
    ] = None,
    resolve_timeout: Annotated[float, typer.Option(help="Seconds to wait for the streams.")] = 2.0,
) -> None:
    """Record LSL streams (every one visible, or those named) to XDF with clock offsets and gap events."""
    import logging

    from bci.devices import RecordLSL

    log = logging.getLogger("bci.record")
    with cli_errors():
        rec = RecordLSL(output, streams=streams, resolve_timeout=resolve_timeout)
        stats = rec.run(duration=duration)
        for s in stats:
            log.info(
                "  %s (%s): %d samples, %d gaps (%d lost), %d reconnects",
                s.name,
                s.stype,
                s.samples,
                s.gaps,
                s.lost,
                s.reconnects,
            )
        log.info("Wrote %s", output)
        if rec.errors:
            raise typer.Exit(1)
