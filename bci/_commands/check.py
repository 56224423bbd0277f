"""``bci check``: signal quality per channel, before trusting a session."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import cli_errors


def check(
    source: Annotated[
        str | None,
        typer.Argument(
            help="Session YAML (its first source is started and checked) or the name of an "
            "LSL stream already on the network (default: the shipped default.yaml)."
        ),
    ] = None,
    duration: Annotated[
        float, typer.Option("--duration", min=0.5, max=600, help="Seconds of signal to read.")
    ] = 10.0,
    require: Annotated[
        str | None,
        typer.Option(
            "--require",
            help="Comma-separated channels that must be good (default: the session's "
            "quality.channels, else its decoder's channels, else all).",
        ),
    ] = None,
    line_freq: Annotated[
        float, typer.Option("--line-freq", min=0, help="Mains frequency in Hz.")
    ] = 50.0,
) -> None:
    """Flag flat, railed, line-noise, high-variance and disconnected channels.

    Prints one row per channel and exits 1 when a required channel is bad.
    """
    from .._quality import (
        QualityCheck,
        bad_required,
        format_table,
        read_impedance,
        read_stream,
        settings_from_config,
    )
    from ..config import QualityConfig, shipped_config

    with cli_errors():
        required: list[str] | None = None
        qcfg = QualityConfig()
        sources = None
        path = Path(source) if source is not None else shipped_config("default.yaml")
        is_config = source is None or path.suffix in (".yaml", ".yml") or path.is_file()
        try:
            if is_config:
                from .._sources import SessionSources
                from ..config import load_config

                cfg = load_config(path)
                qcfg = cfg.quality
                line_freq = cfg.preprocess.notch or line_freq
                sources = SessionSources()
                src, _ = sources.start(list(cfg.sources))
                required = qcfg.channels or cfg.preprocess.channels or _decoder_channels(cfg)
            else:
                from bci.devices import SourceLSL

                src = SourceLSL(name=source, timeout=10.0)
            with src:
                data, spec = read_stream(src, duration, progress=True)
            imp = read_impedance(spec.name, spec.n_channels)
        finally:
            if sources is not None:
                sources.stop()
        if require:
            required = [c.strip() for c in require.split(",") if c.strip()]
            unknown = [c for c in required if c not in spec.ch_names]
            if unknown:
                from .._errors import ConfigError

                raise ConfigError(
                    f"--require: {unknown} not in stream {spec.name!r} ({', '.join(spec.ch_names)})"
                )
        elif required:
            required = [c for c in required if c in spec.ch_names] or None
        report = QualityCheck(spec.sfreq, spec.ch_names, settings_from_config(qcfg, line_freq))(
            data, imp
        )
        typer.echo(
            f"{spec.name}: {spec.n_channels} ch @ {spec.sfreq:g} Hz, {data.shape[1] / spec.sfreq:.1f} s"
        )
        typer.echo(format_table(report, set(required) if required else None))
        bad = bad_required(report, required)
        if bad:
            typer.echo(
                f"bad required channel(s): {', '.join(f'{c.name} ({c.status})' for c in bad)}",
                err=True,
            )
            raise typer.Exit(1)
        typer.echo("all required channels are good")


def _decoder_channels(cfg) -> list[str] | None:  # noqa: ANN001 - SessionConfig
    """The channels the session's decoder was trained on, when its metadata names them."""
    from .._decoder import DecoderONNX
    from .._errors import DecoderError

    try:
        return DecoderONNX(cfg.decoder.path, provider="cpu", threads=1).ch_names
    except DecoderError:
        return None
