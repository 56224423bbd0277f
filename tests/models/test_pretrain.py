"""Masked-reconstruction pretraining: beats the channel-mean baseline, resumes, real files, DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import torch

from bci import models
from bci.models._data import load_cache, save_cache
from bci.models._pretrain import PretrainSettings, make_mask, pretrain, sample_batch

TINY = models.EncoderConfig(dim=32, depth=1, heads=2).to_dict()


def test_masks_hide_tokens_channels_and_patches():
    s = PretrainSettings(p_channel_mask=1.0, p_time_mask=1.0)
    m = make_mask(64, 8, 10, s, torch.Generator().manual_seed(0))
    assert m.shape == (64, 8, 10) and 0.3 < m.float().mean() < 0.8
    assert m.all(dim=2).any()  # some whole channel hidden
    assert m.all(dim=1).any()  # some whole time patch hidden
    assert (~m).any(dim=(1, 2)).all() and m.any(dim=(1, 2)).all()


def test_pretrain_beats_channel_mean_baseline_and_resumes(tmp_path, make_segments):
    segs = make_segments(n=5)
    s = PretrainSettings(
        steps=400, batch_size=16, lr=5e-3, eval_every=200, eval_windows=64, encoder=TINY
    )
    out = tmp_path / "run"
    metrics = pretrain(segs, out, s, progress=False)
    assert metrics["heldout_loss"] < 0.7 * metrics["baseline_loss"], metrics
    assert len(metrics["heldout_recordings"]) == 1 and metrics["world_size"] == 1
    for f in ("last.pt", "encoder.pt", "loss_curve.png", "metrics.json"):
        assert (out / f).is_file(), f
    enc = models.load_encoder(out / "encoder.pt")
    assert enc.config.dim == 32
    # the resumable checkpoint loads too (its encoder part), with the same weights
    mid = models.load_encoder(out / "last.pt").state_dict()
    assert all(torch.equal(mid[k], v) for k, v in enc.state_dict().items())
    # resume: continues at step 400 up to 430 and keeps the earlier history
    more = pretrain(segs, out, replace(s, steps=430), resume=True, progress=False)
    ck = torch.load(out / "last.pt", weights_only=False)
    assert ck["step"] == 430 and ck["history"]["eval_step"] == [200, 400, 430]
    assert more["steps"] == 430


def test_filter_augmentation_band_passes_some_batches(make_segments):
    """filter_prob: the 1 Hz component of the synthetic EEG is removed by a >= 0.5 Hz high-pass
    only in filtered batches; unfiltered batches are the recording itself."""
    import numpy as np

    segs = make_segments(n=2)
    rng = np.random.default_rng(0)

    def low_share(x):  # share of power at or below 1 Hz in 2-s windows
        f = np.abs(np.fft.rfft(x.numpy(), axis=-1)) ** 2
        return f[..., 1:3].sum() / f[..., 1:].sum()

    raw = sample_batch(segs, PretrainSettings(batch_size=8, filter_prob=0.0), rng, 500)[0]
    shares = [
        low_share(sample_batch(segs, PretrainSettings(batch_size=8, filter_prob=1.0), rng, 500)[0])
        for _ in range(20)
    ]
    assert low_share(raw) > 0.3
    # every filtered batch loses part of its 1-Hz power (low edges 0.5-12 Hz, order 4)
    assert max(shares) < 0.9 * low_share(raw) and min(shares) < 0.05, shares


def test_continued_pretraining_from_init_and_leak_refused(tmp_path, make_segments):
    """--init starts from an encoder's weights (better than random at step 0) and refuses an
    encoder that trained on a recording this run holds out."""
    import pytest

    segs = make_segments(n=5)
    s = PretrainSettings(
        steps=300, batch_size=16, lr=5e-3, eval_every=300, eval_windows=64, encoder=TINY
    )
    first = pretrain(segs, tmp_path / "a", s, progress=False)
    again = replace(s, steps=1, lr=1e-9, init=str(tmp_path / "a" / "encoder.pt"), filter_prob=0.5)
    cont = pretrain(segs, tmp_path / "b", again, progress=False)
    cold = pretrain(segs, tmp_path / "c", replace(again, init=None), progress=False)
    # one step at lr ~0: the reconstruction head is new, the encoder is the trained one
    assert cont["heldout_loss"] < cold["heldout_loss"], (first, cont, cold)
    from bci import ConfigError, DecoderError

    with pytest.raises(ConfigError, match="holds out"):
        pretrain(segs, tmp_path / "d", replace(again, seed=3), progress=False)
    with pytest.raises(ConfigError, match="filter_prob"):
        pretrain(segs, tmp_path / "e", replace(again, filter_prob=1.5), progress=False)
    with pytest.raises(DecoderError, match="does not exist"):
        pretrain(segs, tmp_path / "f", replace(again, init=str(tmp_path / "nope.pt")))


def test_cache_roundtrip(tmp_path, make_segments):
    segs = make_segments(n=2, seconds=5)
    back = load_cache(save_cache(segs, tmp_path / "c.npz"))
    assert [b.ch_names for b in back] == [s.ch_names for s in segs]
    for a, b in zip(segs, back, strict=True):
        assert abs(a.data - b.data).max() < 1e-3 * abs(a.data).max()


def test_cli_pretrain_reads_recording_folders(generated, tmp_path):
    """EEG (Muse CSV) and EMG (Myo txt, OpenBCI XDF) folders through bci.devices.read_recording."""
    from typer.testing import CliRunner

    from bci._commands.main import app

    out = tmp_path / "pt"
    args = [
        "pretrain",
        "--data",
        str(generated.root / "muse-ssvep"),
        str(generated.root / "myo-wrist-gestures"),
        str(generated.root / "xdf-openbci-emg-gestures"),
        "-o",
        str(out),
        "--steps",
        "4",
        "--batch-size",
        "4",
        "--eval-every",
        "2",
        "--no-progress",
        "--holdout",
        "0.3",
    ]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "baseline" in res.output
    m = json.loads((out / "metrics.json").read_text())
    kinds = " ".join(m["train_recordings"] + m["heldout_recordings"])
    assert ".csv" in kinds and (".txt" in kinds or ".xdf" in kinds)


def test_cli_pretrain_missing_path_exits_1(tmp_path):
    from typer.testing import CliRunner

    from bci._commands.main import app

    res = CliRunner().invoke(
        app, ["pretrain", "--data", str(tmp_path / "nope"), "-o", str(tmp_path)]
    )
    assert res.exit_code == 1 and "nope" in res.output


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ddp_two_processes_gloo(tmp_path, make_segments):
    """torchrun with 2 CPU processes (gloo): both ranks train, rank 0 writes (~15 s)."""
    cache = save_cache(make_segments(n=4, seconds=10), tmp_path / "c.npz")
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-port",
        str(_free_port()),
        "-m",
        "bci.models._pretrain",
        "--data",
        str(cache),
        "-o",
        str(out),
        "--steps",
        "20",
        "--batch-size",
        "8",
        "--eval-every",
        "10",
        "--dim",
        "16",
        "--depth",
        "1",
        "--no-progress",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = json.loads((out / "metrics.json").read_text())
    assert m["world_size"] == 2 and m["steps"] == 20


def test_holdout_from_earlier_run_on_more_data(tmp_path, make_segments):
    """--holdout-from keeps an earlier run's held-out recordings when data is added, so both
    runs are scored on the same windows; --max-hours trains on a subset of the rest."""
    import pytest

    from bci import ConfigError
    from bci.models._pretrain import heldout_sources, limit_hours, split_fixed

    segs = make_segments(n=5)
    s = PretrainSettings(steps=2, batch_size=8, eval_every=2, eval_windows=16, encoder=TINY)
    first = pretrain(segs, tmp_path / "a", s, progress=False)
    held = heldout_sources(tmp_path / "a" / "metrics.json")
    assert held == first["heldout_recordings"]
    assert heldout_sources(tmp_path / "a" / "encoder.pt") == held
    more = segs + make_segments(n=3, seed=1)
    for i, g in enumerate(more[5:]):
        g.source = f"extra{i}"
    train, out = split_fixed(more, held)
    assert [g.source for g in out] == held and len(train) == len(more) - len(held)
    again = replace(s, holdout_from=str(tmp_path / "a" / "metrics.json"), max_hours=0.01)
    m = pretrain(more, tmp_path / "b", again, progress=False)
    assert m["heldout_recordings"] == held
    assert m["baseline_loss"] == pytest.approx(first["baseline_loss"])  # the same windows
    assert m["train_hours"] <= 0.01 + 30 / 3600
    assert sum(g.seconds for g in limit_hours(more, 0.02, 0)) < sum(g.seconds for g in more)
    with pytest.raises(ConfigError, match="not in --data"):
        split_fixed(segs[:1], held + ["elsewhere"])
    with pytest.raises(ConfigError, match="no such file"):
        heldout_sources(tmp_path / "nope.json")
