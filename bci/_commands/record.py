"""``bci record -o FILE.xdf``: record LSL streams to a crash-safe XDF file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import check_duration, cli_errors


def record(
    output: Annotated[Path, typer.Option("-o", "--output", help="The .xdf file to write.")],
    streams: Annotated[
        list[str] | None,
        typer.Option(
            "--streams",
            "-s",
            help="Stream name or LSL predicate (type='EEG'); repeat. Required unless --all.",
        ),
    ] = None,
    all_streams: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Record every stream visible on the network, other people's included.",
        ),
    ] = False,
    duration: Annotated[
        float | None, typer.Option(help="Seconds to record (default: until Ctrl-C).")
    ] = None,
    resolve_timeout: Annotated[float, typer.Option(help="Seconds to wait for the streams.")] = 2.0,
) -> None:
    """Record the LSL streams named with --streams (or --all) to XDF with clock offsets and gap events."""
    import logging

    from bci.devices import RecordLSL

    from .._errors import ConfigError, StreamError

    log = logging.getLogger("bci.record")
    with cli_errors():
        check_duration(duration)
        if not resolve_timeout > 0:
            raise ConfigError(f"--resolve-timeout must be > 0 seconds, got {resolve_timeout:g}.")
        if streams and all_streams:
            raise ConfigError("give either --streams or --all, not both.")
        if not streams and not all_streams:
            from bci.devices import list_streams

            found = list_streams(timeout=resolve_timeout, desc=False)
            if not found:
                raise StreamError(
                    f"No LSL stream is visible (waited {resolve_timeout:g} s); nothing to record."
                )
            listing = "\n".join(
                f"  {s.name} (type {s.stype!r}, source_id {s.source_id!r})" for s in found
            )
            raise ConfigError(
                f"{len(found)} LSL stream(s) visible, possibly other people's:\n{listing}\n"
                "Choose with --streams NAME (repeat; or an LSL predicate such as "
                "\"source_id='lab1-eeg'\"), or record every one with --all."
            )
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
