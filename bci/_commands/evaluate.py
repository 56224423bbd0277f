"""``bci evaluate DECODER RECORDING...``: score a decoder pseudo-online on labelled recordings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import cli_errors


def _calibration_config(decoder: Path, config: Path | None):
    """The calibration config: --config, else the one beside the model, else the shipped one
    of the decoder's paradigm."""
    from bci import ConfigError
    from bci._evaluation import find_calibration_config
    from bci.config._calibration import CalibrationConfig
    from bci.config._load import load_config

    if config is None:
        config = find_calibration_config(decoder)
    if config is None:
        from bci._decoder import DecoderONNX
        from bci.config import shipped_config

        from .calibrate import PARADIGMS

        paradigm = DecoderONNX(decoder, provider="cpu").metadata.get("paradigm")
        if paradigm in PARADIGMS:
            config = shipped_config(f"calibrate_{PARADIGMS[paradigm]}.yaml")
    if config is None:
        raise ConfigError(
            f"{decoder}: no calibration.yaml beside it and no shipped config for its paradigm; "
            "pass --config calibrate_*.yaml (it says which markers or labels are the classes)"
        )
    if not Path(config).is_file():
        raise ConfigError(f"--config {config}: no such file")
    return load_config(config, CalibrationConfig)


def evaluate(
    decoder: Annotated[Path, typer.Argument(help="model.onnx or a bci calibrate output folder.")],
    recordings: Annotated[
        list[Path],
        typer.Argument(help="Labelled recordings the decoder did not see in calibration."),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Output folder (evaluation.json, report.md, PNG plots)."),
    ] = Path("evaluation"),
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Calibration YAML that says how trials and labels are read (default: the "
            "calibration.yaml beside the model, else the shipped config of its paradigm).",
        ),
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option(
            "--speed",
            help="Replay the files on LSL at this speed and decode live (latency included).",
        ),
    ] = None,
    virtual: Annotated[
        bool,
        typer.Option(
            "--virtual",
            help="Virtual time (the default): the file's timestamps are the clock, no LSL, "
            "no sleeping, deterministic.",
        ),
    ] = False,
    session: Annotated[
        Path | None,
        typer.Option(
            "--session",
            help="Session config for hop and post-processing (smoothing, threshold, dwell).",
        ),
    ] = None,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            help="Also score the decoder epoch by epoch as calibration does, for comparison.",
        ),
    ] = False,
) -> None:
    """Push labelled recordings through the live pipeline and score the decisions.

    Per-window and per-trial accuracy, balanced accuracy, AUC (binary), confusion matrix,
    time to first correct decision, ITR and false activations during rest.
    """
    with cli_errors():
        from bci import ConfigError

        if virtual and speed is not None:
            raise ConfigError("give --speed X (LSL replay) or --virtual, not both")
        if speed is not None and not speed > 0:
            raise ConfigError(f"--speed {speed}: give a positive replay speed")
        if not decoder.exists():
            raise ConfigError(f"{decoder}: no such decoder file or folder")
        cfg = _calibration_config(decoder, config)
        sess = None
        if session is not None:
            from bci.config import SessionConfig
            from bci.config._load import load_config

            sess = load_config(session, SessionConfig)
        from bci._evaluation import evaluate as run

        res = run(decoder, recordings, cfg, out, speed=speed, session=sess, offline=offline)
        t = res["summary"]["trials"]
        if not t.get("n"):
            typer.echo(
                "no trial could be scored: check the config's mapping against the files' "
                f"markers -> {out}",
                err=True,
            )
            raise typer.Exit(1)
        auc = f", AUC {t['auc']:.3f}" if "auc" in t else ""
        line = (
            f"{cfg.paradigm}: trial accuracy {t['accuracy']:.3f}{auc} over {t['n']} trials "
            f"(chance {t['chance']:.3f}, p={t['p_value']:.2g}; {res['mode']})"
        )
        if "online_minus_offline" in res:
            line += (
                f"; offline {res['offline']['trials']['accuracy']:.3f} "
                f"({res['online_minus_offline']['trial_accuracy']:+.3f})"
            )
        typer.echo(f"{line} -> {out}")
