"""Self-supervised pretraining: masked reconstruction over time and channels (``bci pretrain``).

Windows of ``window`` seconds are cut at random from the recordings (250 Hz), with a
random subset of at most ``max_channels`` channels, normalised in the graph's way
(:class:`bci.models.WindowNorm`). Tokens (channel x 0.2 s patch) are hidden by three kinds of
mask at once: random tokens, whole channels (reconstruct a channel from its neighbours)
and whole time patches (reconstruct a moment from its context). A linear head rebuilds
the hidden patches; the loss is their mean squared error.

Held-out recordings (a seeded ``holdout`` fraction of files, never trained on) are scored
against the trivial baseline that predicts each channel's mean over the window.

Runs on one CPU/GPU or under ``torchrun`` with DistributedDataParallel (NCCL on GPUs,
gloo on CPUs); only rank 0 writes files.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ._channels import channel_indices
from ._data import Segment
from ._encoder import EncoderConfig, FoundationEncoder, WindowNorm
from ._weights import save_encoder

logger = logging.getLogger(__name__)


@dataclass
class PretrainSettings:
    """Settings of one pretraining run (stored in checkpoints and ``metrics.json``)."""

    steps: int = 2000
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.05
    window: float = 2.0
    max_channels: int = 16
    mask_ratio: float = 0.4
    p_channel_mask: float = 0.3
    p_time_mask: float = 0.3
    holdout: float = 0.15
    eval_every: int = 200
    eval_windows: int = 512
    eval_batch_size: int | None = None
    seed: int = 0
    filter_prob: float = 0.0
    init: str | None = None
    holdout_from: str | None = None
    max_hours: float | None = None
    encoder: dict = field(default_factory=lambda: EncoderConfig().to_dict())


class MaskedModel(nn.Module):
    """Encoder plus a linear reconstruction head (patch-wise)."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.norm = WindowNorm()
        self.encoder = FoundationEncoder(config)
        self.head = nn.Linear(config.dim, config.patch)

    def forward(self, x: torch.Tensor, ch_idx: torch.Tensor, mask: torch.Tensor):
        """Return ``(prediction, target)`` patches ``(batch, n_ch, n_patches, patch)``."""
        xn = self.norm(x)
        b, c, t = xn.shape
        p = self.encoder.config.patch
        target = xn.reshape(b, c, t // p, p)
        return self.head(self.encoder(xn, ch_idx, mask)), target


def make_mask(b: int, c: int, n: int, s: PretrainSettings, gen: torch.Generator) -> torch.Tensor:
    """Boolean token mask ``(b, c, n)``: random tokens + whole channels + whole patches."""
    mask = torch.rand((b, c, n), generator=gen) < s.mask_ratio
    if c > 1:
        pick = torch.rand((b, 1, 1), generator=gen) < s.p_channel_mask
        chan = torch.rand((b, c, 1), generator=gen) < 0.25
        mask |= pick & chan
    pick = torch.rand((b, 1, 1), generator=gen) < s.p_time_mask
    tm = torch.rand((b, 1, n), generator=gen) < 0.25
    mask |= pick & tm
    mask[:, 0, 0] = False  # never hide everything
    mask[:, -1, -1] = True  # always something to reconstruct
    return mask


#: Samples of signal run through the augmentation filter before the window (1 s at 250 Hz).
FILTER_LEAD = 250


def random_band(kind: str, rng: np.random.Generator) -> tuple[float, float]:
    """A band-pass of the kind calibration paradigms use (Hz), drawn at random.

    EEG: low edge log-uniform in 0.5-12 Hz (ERP to motor-imagery high-passes), high edge
    uniform in 25-70 Hz. EMG: low edge 10-30 Hz, high edge 90-120 Hz.
    """
    if kind == "emg":
        return float(rng.uniform(10.0, 30.0)), float(rng.uniform(90.0, 120.0))
    return float(np.exp(rng.uniform(np.log(0.5), np.log(12.0)))), float(rng.uniform(25.0, 70.0))


def sample_batch(
    segments: list[Segment], s: PretrainSettings, rng: np.random.Generator, n_times: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch from one recording (so all windows share a channel set).

    With probability ``s.filter_prob`` the batch is band-passed by a random causal
    Butterworth filter (:func:`random_band`), run over :data:`FILTER_LEAD` samples before
    each window, as the runtime's filters run ahead of its windows.
    """
    filt = s.filter_prob > 0 and rng.random() < s.filter_prob
    lead = FILTER_LEAD if filt else 0
    lengths = np.array([seg.data.shape[1] - n_times - lead for seg in segments], dtype=float)
    lengths = np.clip(lengths, 0, None)
    seg = segments[rng.choice(len(segments), p=lengths / lengths.sum())]
    n_ch = seg.data.shape[0]
    k = min(n_ch, s.max_channels)
    chans = np.sort(rng.choice(n_ch, size=k, replace=False))
    starts = rng.integers(0, seg.data.shape[1] - n_times - lead, size=s.batch_size)
    x = np.stack([seg.data[chans, a : a + n_times + lead] for a in starts])
    if filt:
        from scipy.signal import butter, sosfilt

        band = random_band(seg.kind, rng)
        sos = butter(4, band, btype="bandpass", fs=250.0, output="sos")
        x = sosfilt(sos, x - x[..., :1], axis=-1)[..., lead:].astype(np.float32)
    idx = channel_indices([seg.ch_names[i] for i in chans])
    return torch.from_numpy(np.ascontiguousarray(x)), torch.tensor(idx, dtype=torch.long)


def heldout_sources(path: str | Path) -> list[str]:
    """The held-out recordings of an earlier run: its ``metrics.json`` or its ``encoder.pt``.

    Raises :class:`bci.ConfigError` when the file lists none.
    """
    from bci._errors import ConfigError

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--holdout-from {path}: no such file")
    if path.suffix == ".json":
        info = json.loads(path.read_text())
    else:
        from ._weights import load_checkpoint

        info = load_checkpoint(path)["info"]
    held = info.get("heldout_recordings")
    if not held:
        raise ConfigError(f"--holdout-from {path}: it lists no held-out recordings")
    return list(held)


def split_fixed(segments: list[Segment], held_sources: list[str]):
    """Split into (train, held-out) by source name: exactly the recordings in ``held_sources``.

    So runs on more data are scored on the same held-out recordings as an earlier run.
    Raises :class:`bci.ConfigError` when one of them is not among ``segments``.
    """
    from bci._errors import ConfigError

    names = {g.source for g in segments}
    missing = [h for h in held_sources if h not in names]
    if missing:
        raise ConfigError(
            f"--holdout-from: {len(missing)} held-out recording(s) are not in --data "
            f"(e.g. {missing[0]}): pass the same files, with the same paths"
        )
    wanted = set(held_sources)
    return [g for g in segments if g.source not in wanted], [
        g for g in segments if g.source in wanted
    ]


def limit_hours(segments: list[Segment], hours: float, seed: int) -> list[Segment]:
    """A seeded random subset of whole recordings adding up to about ``hours`` (data scaling)."""
    order = np.random.default_rng([seed, 11]).permutation(len(segments))
    out, total = [], 0.0
    for i in order:
        if total >= hours * 3600:
            break
        out.append(segments[i])
        total += segments[i].seconds
    return out


def split_segments(segments: list[Segment], holdout: float, seed: int):
    """Seeded split of recordings into (train, held-out); at least one of each."""
    rng = np.random.default_rng([seed, 7])
    order = rng.permutation(len(segments))
    n_out = max(1, int(round(holdout * len(segments)))) if len(segments) > 1 else 0
    held = sorted(order[:n_out])
    train = [segments[i] for i in range(len(segments)) if i not in set(held)]
    return train, [segments[i] for i in held]


@torch.no_grad()
def evaluate(model: MaskedModel, segments: list[Segment], s: PretrainSettings, device) -> dict:
    """Held-out masked-reconstruction MSE of the model and of the channel-mean baseline.

    Always on unfiltered windows (``filter_prob`` 0), so runs with and without the filter
    augmentation are scored on the same held-out windows.
    """
    s = replace(s, filter_prob=0.0, batch_size=s.eval_batch_size or s.batch_size)
    model.eval()
    rng = np.random.default_rng([s.seed, 99])
    gen = torch.Generator().manual_seed(s.seed + 99)
    n_times = int(s.window * 250)
    tot_m = tot_b = count = 0.0
    segs = [g for g in segments if g.data.shape[1] > n_times]
    for _ in range(max(1, s.eval_windows // s.batch_size)):
        x, idx = sample_batch(segs, s, rng, n_times)
        b, c, t = x.shape
        mask = make_mask(b, c, t // model.encoder.config.patch, s, gen)
        pred, target = model(x.to(device), idx.to(device), mask.to(device))
        m = mask.to(device)
        baseline = target.mean(dim=(2, 3), keepdim=True).expand_as(target)
        tot_m += float(((pred - target) ** 2)[m].sum())
        tot_b += float(((baseline - target) ** 2)[m].sum())
        count += float(m.sum()) * target.shape[-1]
    model.train()
    return {"heldout_loss": tot_m / count, "baseline_loss": tot_b / count}


def _init_encoder(encoder: FoundationEncoder, path: str, held: list[Segment]) -> None:
    """Continued pretraining: copy the weights of ``path`` into ``encoder``.

    Raises :class:`bci.ConfigError` when the configs differ, or when a recording the initial
    run trained on is held out here (the held-out score would no longer be held out: use the
    initial run's ``--seed`` and data).
    """
    from bci._errors import ConfigError

    from ._weights import check_keys, load_checkpoint

    ckpt = load_checkpoint(path)
    if EncoderConfig(**ckpt["config"]).to_dict() != encoder.config.to_dict():
        raise ConfigError(f"--init {path}: its encoder config differs from this run's")
    seen = set(ckpt["info"].get("train_recordings", []))
    leaked = sorted(seen & {g.source for g in held})
    if leaked:
        raise ConfigError(
            f"--init {path} was trained on {len(leaked)} recording(s) this run holds out "
            f"(e.g. {leaked[0]}): use the seed and data of the run that made it"
        )
    check_keys(encoder, ckpt["state_dict"], str(path))
    encoder.load_state_dict(ckpt["state_dict"], strict=True)
    logger.info("encoder initialised from %s", path)


def _plot(history: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(history["step"], history["train_loss"], label="train (masked MSE)", alpha=0.6)
    if history["eval_step"]:
        ax.plot(history["eval_step"], history["heldout_loss"], "o-", label="held-out")
        ax.plot(
            history["eval_step"],
            history["baseline_loss"],
            "--",
            label="held-out baseline (channel mean)",
        )
    ax.set_xlabel("step")
    ax.set_ylabel("MSE (normalised units)")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def pretrain(
    segments: list[Segment],
    out: str | Path,
    settings: PretrainSettings | None = None,
    *,
    resume: bool = False,
    progress: bool = True,
    device: str | None = None,
) -> dict[str, Any]:
    """Pretrain the foundation encoder by masked reconstruction.

    Parameters
    ----------
    segments : list of Segment
        Recordings at 250 Hz (:func:`bci.models.load_segments`).
    out : path-like
        Output folder: ``last.pt`` (resumable checkpoint), ``encoder.pt`` (the encoder, for
        :func:`bci.models.load_encoder`), ``loss_curve.png``, ``metrics.json``.
    settings : PretrainSettings | None
        Steps, batch, masking, seed...
    resume : bool
        Continue from ``out/last.pt`` (same settings) instead of starting over.
    progress : bool
        tqdm bar on rank 0.
    device : str | None
        Default: ``cuda:LOCAL_RANK`` when CUDA is available, else CPU.

    Returns
    -------
    dict
        Final metrics (held-out loss, baseline loss, margin, hours of data...).
    """
    from tqdm.auto import tqdm

    s = settings or PretrainSettings()
    if not 0.0 <= s.filter_prob <= 1.0:
        from bci._errors import ConfigError

        raise ConfigError(f"filter_prob must be a probability in [0, 1], got {s.filter_prob}")
    out = Path(out)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device is None:
        device = f"cuda:{local}" if torch.cuda.is_available() else "cpu"
    ddp = world > 1
    if ddp:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    if device.startswith("cuda"):
        torch.cuda.set_device(device)
    if s.holdout_from:
        train, held = split_fixed(segments, heldout_sources(s.holdout_from))
    else:
        train, held = split_segments(segments, s.holdout, s.seed)
    if s.max_hours is not None:
        train = limit_hours(train, s.max_hours, s.seed)
    n_times = int(s.window * 250)
    train = [g for g in train if g.data.shape[1] > n_times]
    torch.manual_seed(s.seed)  # identical initial weights on every rank
    model = MaskedModel(EncoderConfig(**s.encoder))
    if s.init and not resume:
        _init_encoder(model.encoder, s.init, held)
    model = model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    warm = max(1, s.steps // 20)

    def lr_at(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, s.steps - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    history: dict[str, list] = {
        k: [] for k in ("step", "train_loss", "eval_step", "heldout_loss", "baseline_loss")
    }
    start = 0
    rng = np.random.default_rng([s.seed, rank])
    gen = torch.Generator().manual_seed(s.seed * 1000 + rank)
    if resume and (out / "last.pt").is_file():
        ck = torch.load(out / "last.pt", map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        history = ck["history"]
        start = ck["step"]
        rng.bit_generator.state = (
            ck["rng"][rank] if rank < len(ck["rng"]) else rng.bit_generator.state
        )
        if rank == 0:
            gen.set_state(ck["gen"])
        logger.info("resumed from %s at step %d", out / "last.pt", start)
    net = model
    if ddp:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[local] if device.startswith("cuda") else None
        )
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        hours = sum(g.seconds for g in segments) / 3600
        logger.info(
            "pretraining %d parameters on %d recordings (%.2f h; %d held out), %d steps x %d x %d ranks",
            sum(p.numel() for p in model.encoder.parameters()),
            len(segments),
            hours,
            len(held),
            s.steps,
            s.batch_size,
            world,
        )
    bar = tqdm(
        range(start, s.steps),
        desc="pretrain",
        disable=not progress or rank != 0,
        initial=start,
        total=s.steps,
    )
    model.train()
    run_loss = []
    for step in bar:
        x, idx = sample_batch(train, s, rng, n_times)
        b, c, t = x.shape
        mask = make_mask(b, c, t // model.encoder.config.patch, s, gen).to(device)
        pred, target = net(x.to(device, non_blocking=True), idx.to(device), mask)
        loss = ((pred - target) ** 2)[mask].mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        run_loss.append(float(loss.detach()))
        done = step + 1
        if done % 20 == 0 or done == s.steps:
            history["step"].append(done)
            history["train_loss"].append(float(np.mean(run_loss)))
            bar.set_postfix(loss=f"{history['train_loss'][-1]:.3f}")
            run_loss = []
        if (done % s.eval_every == 0 or done == s.steps) and rank == 0:
            ev = evaluate(model, held or train, s, device)
            history["eval_step"].append(done)
            history["heldout_loss"].append(ev["heldout_loss"])
            history["baseline_loss"].append(ev["baseline_loss"])
            logger.info(
                "step %d: held-out %.4f, baseline %.4f",
                done,
                ev["heldout_loss"],
                ev["baseline_loss"],
            )
            torch.save(
                {
                    "model": model.state_dict(),
                    "encoder": model.encoder.state_dict(),
                    "config": model.encoder.config.to_dict(),
                    "opt": opt.state_dict(),
                    "sched": sched.state_dict(),
                    "history": history,
                    "step": done,
                    "settings": asdict(s),
                    "rng": [rng.bit_generator.state],
                    "gen": gen.get_state(),
                    "info": {"step": done},
                },
                out / "last.pt",
            )
            _plot(history, out / "loss_curve.png")
    metrics: dict[str, Any] = {}
    if rank == 0:
        hb, hm = history["baseline_loss"][-1], history["heldout_loss"][-1]
        metrics = {
            "steps": s.steps,
            "world_size": world,
            "heldout_loss": hm,
            "baseline_loss": hb,
            "margin": hb - hm,
            "relative_reduction": (hb - hm) / hb,
            "hours": sum(g.seconds for g in segments) / 3600,
            "train_hours": sum(g.seconds for g in train) / 3600,
            "train_recordings": [g.source for g in train],
            "heldout_recordings": [g.source for g in held],
            "n_params": sum(p.numel() for p in model.encoder.parameters()),
            "settings": asdict(s),
        }
        save_encoder(
            model.encoder.cpu(),
            out / "encoder.pt",
            **{k: v for k, v in metrics.items() if k != "settings"},
        )
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
        _plot(history, out / "loss_curve.png")
        logger.info(
            "held-out %.4f vs baseline %.4f (%.0f%% lower)",
            hm,
            hb,
            100 * metrics["relative_reduction"],
        )
    if ddp:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return metrics


def main(argv: list[str] | None = None) -> None:
    """``python -m bci.models._pretrain --data CACHE.npz|PATHS -o DIR``: for machines without the CLI."""
    import argparse

    from ._data import load_cache, load_segments

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", required=True)
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--dim", type=int, default=EncoderConfig.dim)
    ap.add_argument("--depth", type=int, default=EncoderConfig.depth)
    ap.add_argument("--filter-prob", type=float, default=PretrainSettings.filter_prob)
    ap.add_argument(
        "--init", default=None, help="start from this encoder.pt (continued pretraining)"
    )
    ap.add_argument(
        "--holdout-from",
        default=None,
        help="hold out exactly the recordings an earlier run held out (its metrics.json)",
    )
    ap.add_argument(
        "--max-hours", type=float, default=None, help="train on a random subset of this many hours"
    )
    ap.add_argument(
        "--eval-batch-size",
        type=int,
        default=None,
        help="windows per held-out batch (default --batch-size; the held-out windows depend on it)",
    )
    ap.add_argument("--simulated-minutes", type=float, default=0.0)
    ap.add_argument("--cache", default=None, help="also write the prepared data to this .npz")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if a.threads:
        torch.set_num_threads(a.threads)
    if len(a.data) == 1 and a.data[0].endswith(".npz"):
        segs = load_cache(a.data[0])
    else:
        from ._data import save_cache, simulated_segments

        segs = load_segments(a.data)
        if a.simulated_minutes > 0:
            segs += simulated_segments(a.simulated_minutes)
        if a.cache:
            save_cache(segs, a.cache)
    s = PretrainSettings(
        steps=a.steps,
        batch_size=a.batch_size,
        lr=a.lr,
        seed=a.seed,
        eval_every=a.eval_every,
        filter_prob=a.filter_prob,
        init=a.init,
        holdout_from=a.holdout_from,
        eval_batch_size=a.eval_batch_size,
        max_hours=a.max_hours,
        encoder=EncoderConfig(dim=a.dim, depth=a.depth).to_dict(),
    )
    pretrain(segs, a.out, s, resume=a.resume, progress=not a.no_progress)


if __name__ == "__main__":
    main()
