"""``bci devices``: the BrainFlow boards this install supports and the LSL streams visible now."""

from __future__ import annotations

from typing import Annotated

import typer

from ._common import cli_errors


def devices(
    timeout: Annotated[float, typer.Option(help="Seconds to listen for LSL streams.")] = 1.0,
    boards: Annotated[
        bool, typer.Option("--boards/--no-boards", help="List BrainFlow boards.")
    ] = True,
) -> None:
    """List BrainFlow boards (id, name, rate, EEG channels) and the LSL streams on the network."""
    from bci.devices import list_boards, list_streams

    with cli_errors():
        if boards:
            typer.echo("BrainFlow boards (id  name  sfreq  n_eeg):")
            for bid, name, sfreq, n_eeg in list_boards():
                typer.echo(f"  {bid:>4}  {name:<28} {sfreq:>7g}  {n_eeg}")
        streams = list_streams(timeout=timeout)
        typer.echo(f"LSL streams visible now ({len(streams)}):")
        for s in streams:
            rate = f"{s.sfreq:g} Hz" if s.sfreq else "irregular"
            typer.echo(
                f"  {s.name}  type={s.stype}  {s.n_channels} ch @ {rate}  {s.dtype}  "
                f"source_id={s.source_id}  channels={','.join(s.ch_names[:8])}{'...' if s.n_channels > 8 else ''}"
            )
