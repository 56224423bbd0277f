"""``bci export-bids``: a session recording as an EEG-BIDS dataset (through mne-bids)."""
# ruff: noqa: B008  (typer declares options as argument defaults)

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path

import typer

from ._common import cli_errors


class BIDSFormat(StrEnum):
    """Raw data formats mne-bids writes."""

    BrainVision = "BrainVision"
    EDF = "EDF"
    BDF = "BDF"
    FIF = "FIF"


def export_bids(
    recording: Path = typer.Argument(
        ..., help="Session recording (bci run XDF) or any file bci replay reads."
    ),
    root: Path = typer.Option(..., "--root", help="BIDS dataset folder (created or added to)."),
    subject: str = typer.Option("01", "--subject", help="BIDS subject label (letters, digits)."),
    session: str | None = typer.Option(None, "--session", help="BIDS session label."),
    task: str = typer.Option("bci", "--task", help="BIDS task label (letters, digits)."),
    run: int | None = typer.Option(None, "--run", help="BIDS run number."),
    signal: str | None = typer.Option(
        None, "--signal", help="Stream to export (default: the first regularly sampled one)."
    ),
    line_freq: float | None = typer.Option(
        None, "--line-freq", help="Mains frequency in Hz for the sidecar (default: n/a)."
    ),
    fmt: BIDSFormat | None = typer.Option(
        None, "--format", help="Raw data format (default: BrainVision for EEG, EDF for EMG)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing files."),
) -> None:
    """Export a recording to EEG-BIDS: raw data, channels.tsv, events.tsv (stimulus markers)
    and sidecars; decisions, latency stamps and runtime events go to
    derivatives/bci-runtime/."""
    with cli_errors():
        from bci.devices import write_bids

        if logging.getLogger().level > logging.DEBUG:
            logging.getLogger("pyxdf").setLevel(logging.WARNING)
        out = write_bids(
            recording,
            root,
            subject=subject,
            session=session,
            task=task,
            run=run,
            signal=signal,
            line_freq=line_freq,
            fmt=None if fmt is None else str(fmt),
            overwrite=overwrite,
        )
        typer.echo(f"wrote {out.raw} ({out.n_events} events in {out.events or 'no events.tsv'})")
        for path in out.derivatives:
            typer.echo(f"derivative {path}")
