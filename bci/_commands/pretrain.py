"""``bci pretrain``: self-supervised masked-reconstruction pretraining of the foundation encoder."""
# ruff: noqa: B008  (typer declares options as argument defaults)

from __future__ import annotations

from pathlib import Path

import typer

from ._common import cli_errors


def pretrain(
    data: list[Path] = typer.Option(
        ...,
        "--data",
        help="Recordings or folders (any format bci.devices.read_recording reads), "
        "or one .npz cache written by --cache.",
    ),
    more: list[Path] | None = typer.Argument(
        None,
        help="More recordings/folders: `--data A B C` and `--data A --data B` both work.",
        show_default=False,
    ),
    out: Path = typer.Option(
        ...,
        "-o",
        "--out",
        help="Output folder (checkpoints, encoder.pt, loss_curve.png, metrics.json).",
    ),
    steps: int = typer.Option(2000, help="Optimizer steps (per process)."),
    batch_size: int = typer.Option(64, help="Windows per step and process."),
    lr: float = typer.Option(1e-3, help="Peak AdamW learning rate (warm-up then cosine)."),
    window: float = typer.Option(2.0, help="Window length in seconds (at 250 Hz)."),
    mask_ratio: float = typer.Option(
        0.4, help="Fraction of tokens hidden at random (plus whole channels/patches)."
    ),
    holdout: float = typer.Option(
        0.15, help="Fraction of recordings held out for the baseline comparison."
    ),
    holdout_from: Path | None = typer.Option(
        None,
        help="Hold out exactly the recordings an earlier run held out (its metrics.json or "
        "encoder.pt) instead of a seeded share: runs on more data are then scored on the "
        "same held-out recordings.",
    ),
    eval_every: int = typer.Option(200, help="Steps between held-out evaluations and checkpoints."),
    simulated_minutes: float = typer.Option(
        0.0, help="Add this many minutes of simulated-participant EEG."
    ),
    cache: Path | None = typer.Option(
        None, help="Also write the prepared data to this .npz (for another machine)."
    ),
    seed: int = typer.Option(0, help="Seed of weights, split, sampling and masks."),
    filter_prob: float = typer.Option(
        0.0,
        help="Fraction of batches band-passed by a random causal Butterworth filter "
        "(EEG 0.5-12 Hz to 25-70 Hz, EMG 10-30 to 90-120 Hz), as calibration paradigms filter.",
    ),
    init: Path | None = typer.Option(
        None, help="Start from this encoder.pt instead of random weights (continued pretraining)."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT/last.pt."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Pretrain the encoder by masked reconstruction over time and channels (EEG and EMG).

    Runs under torchrun for several GPUs/nodes: `torchrun --nproc-per-node 4 $(which bci) pretrain ...`.
    """
    with cli_errors():
        from bci.models._data import load_cache, load_segments, save_cache, simulated_segments
        from bci.models._pretrain import PretrainSettings
        from bci.models._pretrain import pretrain as run_pretrain

        data = list(data) + list(more or [])
        if len(data) == 1 and data[0].suffix == ".npz":
            segments = load_cache(data[0])
        else:
            segments = load_segments(data)
        if simulated_minutes > 0:
            segments += simulated_segments(simulated_minutes)
        if cache is not None:
            save_cache(segments, cache)
        settings = PretrainSettings(
            steps=steps,
            batch_size=batch_size,
            lr=lr,
            window=window,
            mask_ratio=mask_ratio,
            holdout=holdout,
            eval_every=eval_every,
            seed=seed,
            filter_prob=filter_prob,
            init=str(init) if init else None,
            holdout_from=str(holdout_from) if holdout_from else None,
        )
        metrics = run_pretrain(segments, out, settings, resume=resume, progress=progress)
        if metrics:
            typer.echo(
                f"held-out masked MSE {metrics['heldout_loss']:.4f} vs channel-mean baseline "
                f"{metrics['baseline_loss']:.4f} ({100 * metrics['relative_reduction']:.0f}% lower); "
                f"encoder: {out / 'encoder.pt'}"
            )
