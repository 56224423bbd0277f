"""``bci replay FILE``: re-publish a recording as live LSL streams."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .._errors import ConfigError
from ._common import check_duration, cli_errors, cli_values


def replay(
    file: Annotated[
        Path, typer.Argument(help="XDF, EDF/BDF, FIF, BrainVision .vhdr, or CSV/TXT recording.")
    ],
    speed: Annotated[float, typer.Option(help="Playback speed; 1.0 is real time.")] = 1.0,
    loop: Annotated[bool, typer.Option("--loop/--no-loop", help="Start again at the end.")] = False,
    mapping: Annotated[
        str | None,
        typer.Option(
            help="CSV column mapping: a YAML file (configs/replay_*.yaml) or a preset name."
        ),
    ] = None,
    sfreq: Annotated[
        float | None, typer.Option(help="Sampling rate for files without one (Myo: 200).")
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many wall-clock seconds.")
    ] = None,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for consumers before starting.")
    ] = 0.0,
    source_prefix: Annotated[str, typer.Option(help="Prefix added to every LSL source_id.")] = "",
    partial: Annotated[
        bool,
        typer.Option(
            "--partial", help="Replay the complete part of a truncated XDF file (cut short)."
        ),
    ] = False,
    stim_channel: Annotated[
        str | None,
        typer.Option(
            "--stim-channel",
            help="EDF/BDF/FIF/BrainVision trigger channel whose value changes become markers "
            "(repeatable as comma-separated names); 'none' reads every channel as a signal. "
            "Default: detected (integer-valued, mostly constant).",
        ),
    ] = None,
) -> None:
    """Replay every stream of FILE on LSL with its original names, types, labels, rate and markers."""
    import logging

    from bci.devices import ReplayLSL

    log = logging.getLogger("bci.replay")
    with cli_errors():
        from ..config._sources import ReplaySourceConfig

        cli_values(  # the rules of a replay source's config keys apply to the flags
            ReplaySourceConfig,
            {"path": str(file), "speed": speed, "loop": loop, "sfreq": sfreq},
            {"speed": "--speed", "sfreq": "--sfreq", "path": "FILE"},
        )
        check_duration(duration)
        if wait < 0:
            raise ConfigError(f"--wait must be >= 0 seconds, got {wait:g}.")
        stim: str | list[str] | bool | None = None
        if stim_channel is not None:
            stim = False if stim_channel.lower() == "none" else stim_channel.split(",")
        player = ReplayLSL(
            file,
            speed=speed,
            loop=loop,
            mapping=mapping,
            sfreq=sfreq,
            source_prefix=source_prefix,
            partial=partial,
            stim_channel=stim,
        )
        for s in player.specs:
            rate = f"{s.sfreq:g} Hz" if s.sfreq else "irregular"
            log.info(
                "  %s (%s, %d ch @ %s, source_id=%s)",
                s.name,
                s.stype,
                s.n_channels,
                rate,
                s.source_id,
            )
        player.start(wait_consumers=wait)
        try:
            player.wait(timeout=duration)
        except KeyboardInterrupt:
            log.info("Interrupted.")
        finally:
            player.stop()
        late = sorted(player.stats.lateness) or [0.0]
        log.info(
            "Replayed %d samples, %d loops; wake-up lateness p50 %.3f ms, p99 %.3f ms, max %.3f ms",
            player.stats.samples,
            player.stats.loops,
            1e3 * late[len(late) // 2],
            1e3 * late[int(0.99 * (len(late) - 1))],
            1e3 * late[-1],
        )
