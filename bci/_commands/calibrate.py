"""``bci calibrate``: train a per-user decoder from recordings (or a live paradigm)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import ABORTED, check_flag, cli_errors

PARADIGMS = {
    "ssvep": "muse-ssvep",
    "p300": "muse-p300",
    "n170": "muse-n170",
    "wrist-gestures": "myo-wrist-gestures",
    "hand-gestures": "xdf-openbci-emg-gestures",
    "motor-imagery": "eegmmidb",
    "sim-ssvep": "sim-ssvep",
    "sim-p300": "sim-p300",
}
LIVE_SIM = {"sim-ssvep": "ssvep", "sim-p300": "p300"}


def calibrate(
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Output folder (model.onnx, report.md, metrics.json)."),
    ],
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Recording files (also accepted after --data: --data a.csv b.csv)."),
    ] = None,
    data: Annotated[
        list[Path] | None,
        typer.Option("--data", "-d", help="A recording file; repeat --data for several."),
    ] = None,
    paradigm: Annotated[
        str | None,
        typer.Option(
            "--paradigm",
            "-p",
            help=f"Paradigm: {', '.join(PARADIGMS)}; picks configs/calibrate_<set>.yaml unless --config.",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Calibration YAML (configs/calibrate_*.yaml)."),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option("--user", help="User name stored in the model (overrides the config)."),
    ] = None,
    live: Annotated[
        bool,
        typer.Option(
            "--live",
            help="Run the paradigm live, record it, then train: -p "
            "ssvep|p300|mi|gestures|eyes|n170 "
            "with --source (PsychoPy window), or -p sim-ssvep (headless, virtual time).",
        ),
    ] = False,
    live_seconds: Annotated[
        float,
        typer.Option("--live-seconds", min=1.0, help="Length of the live paradigm in seconds."),
    ] = 120.0,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="--live: where the signal comes from: simulated, brainflow:<board>[:<port>] "
            "(synthetic, cyton, muse_2...) or lsl:<stream name>. Shows the paradigm "
            "(configs/paradigm_<-p>.yaml) on screen in real time and records to recordings/.",
        ),
    ] = None,
    trials: Annotated[
        int | None,
        typer.Option("--trials", help="--live: number of cued trials (overrides the paradigm's)."),
    ] = None,
    screened: Annotated[
        str | None,
        typer.Option(
            "--screened",
            help="--live SSVEP opt-in: who screened the participant for photosensitive "
            "epilepsy and how (periodic flicker is refused without it).",
        ),
    ] = None,
    images: Annotated[
        Path | None,
        typer.Option(
            "--images",
            help="--live -p n170: folder with a 'faces' and a 'houses' subfolder of pictures "
            "(overrides the paradigm's 'images'; the simulated participant gets generated "
            "placeholders without it).",
        ),
    ] = None,
    no_extras: Annotated[
        bool, typer.Option("--fast", help="Skip the learning curve and the shortcut check.")
    ] = False,
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            help="Column layout of CSV/text recordings of an unknown layout: a replay mapping "
            "YAML (see configs/replay_columns.yaml); overrides the config's 'layout'.",
        ),
    ] = None,
    population: Annotated[
        list[Path] | None,
        typer.Option(
            "--population",
            help="Recordings (or folders) of other users of this paradigm; repeat for several. "
            "Every candidate is also trained on them plus the user's trials ('pop_<name>'); "
            "overrides the config's 'population'.",
        ),
    ] = None,
    loso: Annotated[
        bool,
        typer.Option(
            "--loso",
            help="Leave-one-subject-out instead of one user's decoder: --data holds several "
            "users (one folder each); writes loso.md / loso.json with the few-trial curve "
            "(5, 10, 20, 40, all trials per class) of every candidate, alone and pooled.",
        ),
    ] = False,
    encoder: Annotated[
        Path | None,
        typer.Option(
            "--encoder",
            help="Pretrained encoder.pt for the foundation strategies (from bci pretrain; "
            "overrides training.encoder, default: the shipped one).",
        ),
    ] = None,
) -> None:
    """Calibrate a per-user decoder: strategies vs classical baselines, ONNX model and report."""
    with cli_errors():
        from bci import ConfigError
        from bci.config._calibration import CalibrationConfig
        from bci.config._load import load_config
        from bci.models.calibration._live import LIVE_PARADIGMS

        live_run = False
        if live and (source is not None or paradigm in LIVE_PARADIGMS):
            from bci.models.calibration._live import live_recording

            if paradigm is None:
                raise ConfigError(f"--live needs -p {'|'.join(LIVE_PARADIGMS)} (or a YAML path)")
            from bci.config._paradigm import ParadigmConfig

            check_flag(ParadigmConfig, "trials", trials, "--trials")
            rec, live_cfg, summary = live_recording(
                paradigm, source or "simulated", trials=trials, screened=screened, images=images
            )
            typer.echo(f"recorded {rec}")
            if summary.get("aborted"):
                typer.echo(
                    f"aborted with the abort key after {summary['trials']} of "
                    f"{summary['planned']} trials; the recording is complete and kept, nothing "
                    f"was trained (train on it with bci calibrate --data {rec})",
                    err=True,
                )
                raise typer.Exit(ABORTED)
            if config is None and live_cfg is None:
                typer.echo(f"{rec}: the paradigm names no calibration config; pass --config")
                return
            paradigm, live, files = None, False, [rec, *(files or [])]
            if config is None:
                config = live_cfg
            live_run = True
        if config is None:
            if paradigm is None:
                raise ConfigError("give --paradigm NAME or --config FILE")
            if paradigm not in PARADIGMS:
                raise ConfigError(
                    f"unknown paradigm {paradigm!r}; choose one of {sorted(PARADIGMS)} or pass --config"
                )
            from bci.config import shipped_config

            config = shipped_config(f"calibrate_{PARADIGMS[paradigm]}.yaml")
        cfg = (
            config
            if isinstance(config, CalibrationConfig)
            else load_config(config, CalibrationConfig)
        )
        if paradigm is not None and paradigm != cfg.paradigm:
            raise ConfigError(
                f"--paradigm {paradigm!r} does not match {config} (paradigm: {cfg.paradigm})"
            )
        if user is not None:
            cfg = cfg.model_copy(update={"user": user})
        if mapping is not None:
            if not mapping.is_file():
                raise ConfigError(f"--mapping {mapping}: no such file")
            cfg = cfg.model_copy(update={"layout": str(mapping)})
        if encoder is not None:
            if not encoder.exists():
                raise ConfigError(f"--encoder {encoder}: no such file")
            training = cfg.training.model_copy(update={"encoder": str(encoder)})
            cfg = cfg.model_copy(update={"training": training})
        data = [*(data or []), *(files or [])]
        if population:
            from bci.models._data import find_files

            missing = [p for p in population if not p.exists()]
            if missing:
                raise ConfigError(f"--population {missing[0]}: no such file or folder")
            pop_files = [str(f) for f in find_files(population) if f.suffix != ".md"]
            cfg = cfg.model_copy(update={"population": pop_files})
        if loso:
            if not data:
                raise ConfigError("--loso: pass the recordings of several users with --data")
            from bci.models._data import find_files
            from bci.models.calibration._population import run_loso

            res = run_loso([str(f) for f in find_files(data)], cfg, out)
            sm = res["summary"]
            typer.echo(
                f"{cfg.paradigm}: leave-one-subject-out over {len(res['subjects'])} subjects, "
                f"at 20 trials per class foundation {sm.get('foundation_chosen', float('nan')):.3f}"
                f" vs classical {sm.get('classical_chosen', float('nan')):.3f} "
                f"(inner-CV choices) -> {out / 'loso.md'}"
            )
            return
        if live:
            if cfg.paradigm not in LIVE_SIM:
                typer.echo(
                    f"bci calibrate --live: only the simulated participant's paradigms "
                    f"({', '.join(LIVE_SIM)}) run live so far (headless, virtual time); the "
                    "PsychoPy cue screens with a headset are not built yet. Record the paradigm "
                    "with `bci record`, then run `bci calibrate --data FILE`.",
                    err=True,
                )
                raise typer.Exit(1)
            from bci.models.calibration._live import record_simulated

            data = [
                record_simulated(
                    LIVE_SIM[cfg.paradigm], out / "recording.xdf", duration=live_seconds
                )
            ]
        if not data:
            raise ConfigError("no recording given: pass at least one file with --data")
        from bci.models.calibration import calibrate as run

        res = run(
            [str(p) for p in data],
            cfg,
            out,
            progress=True,
            learning=not no_extras,
            shortcut=not no_extras,
        )
        best = res.metrics["best"]
        auc = f", AUC {best['auc']:.3f}" if "auc" in best else ""
        typer.echo(
            f"{cfg.paradigm}/{cfg.user}: {best['name']} accuracy {best['accuracy']:.3f}{auc} "
            f"({res.metrics['evaluation']}) -> {res.out_dir}"
        )
        for w in res.metrics["warnings"]:
            typer.echo(f"warning: {w}", err=True)
        if live_run:
            from bci.models.calibration._live import chance_warning

            if w := chance_warning(res.metrics, len(cfg.classes)):
                typer.echo(f"warning: {w}", err=True)
