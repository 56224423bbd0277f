"""Event-locked decoding: one epoch per onset marker, in virtual time and live in ``bci run``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from bci._runtime import Epocher, EpochSettings, Windower

from .conftest import write_simulated_xdf

CLI = "from bci._commands.main import run; run()"


def _chunks(n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    out, a = [], 0
    while a < n:
        b = min(n, a + int(rng.integers(1, 12)))
        out.append((a, b))
        a = b
    return out


def test_epocher_cuts_one_epoch_per_onset_once_its_last_sample_is_in() -> None:
    sfreq, n_times = 100.0, 30
    x = np.tile(np.arange(2000, dtype=np.float32), (2, 1))  # value = sample index
    ts = 5.0 + np.arange(2000) / sfreq
    ep = Epocher(2, sfreq, n_times, EpochSettings(("t", "n"), -0.1, 0.2), keep=5.0)
    onsets = [(5.5031, "t"), (6.0, "n"), (6.1, "t")]  # nearest samples 50, 100, 110
    for t, v in onsets:
        ep.add_onset(t, v)
    got = []
    for a, b in _chunks(2000, np.random.default_rng(0)):
        for w in ep(x[:, a:b], ts[a:b], float(ts[b - 1])):
            got.append((b, w))
    assert [w.marker for _, w in got] == ["t", "n", "t"]
    for (b, w), first in zip(got, (40, 90, 100), strict=True):
        np.testing.assert_array_equal(w.data[0], np.arange(first, first + n_times))
        assert w.t_first == ts[first] and w.t_last == ts[first + n_times - 1]
        assert b == first + n_times or b - (first + n_times) < 12  # cut by the chunk completing it
    # a late onset (its samples long in) is cut at the next chunk; one older than the ring is not
    ep.add_onset(ts[1500], "n")
    ep.add_onset(ts[10], "n")
    out = ep(np.zeros((2, 1), np.float32), np.array([ts[-1] + 0.01]), 0.0)
    assert len(out) == 1 and out[0].data[0, 0] == 1490
    assert ep.n_missed == 1 and ep.n_epochs == 4


def test_baseline_is_subtracted_like_calibration() -> None:
    ep = Epocher(1, 10.0, 10, EpochSettings(("s",), -0.2, 0.8, baseline=(-0.2, 0.0)))
    ep.add_onset(1.0, "s")
    x = np.arange(40, dtype=np.float32)[None]
    (w,) = ep(x, np.arange(40) / 10.0, 0.0)
    np.testing.assert_allclose(w.data[0], np.arange(8, 18) - 8.5)  # mean of samples 8, 9


def test_marker_filter_and_metadata() -> None:
    s = EpochSettings.from_metadata(
        {
            "epochs": {
                "events": "onset",
                "markers": ["1", "2"],
                "tmin": 0,
                "tmax": 0.8,
                "marker_stream": "mk",
            }
        }  # fmt: skip
    )
    assert s is not None and s.accepts("mk", " 2") and not s.accepts("other", "2")
    assert not s.accepts("mk", "3")
    assert EpochSettings.from_metadata({"classes": ["a"]}) is None
    from bci import DecoderError

    with pytest.raises(DecoderError, match="bci.epochs"):
        EpochSettings.from_metadata({"epochs": {"events": "onset", "markers": ["1"]}})


def test_windows_lie_on_the_hop_grid_whatever_the_chunking() -> None:
    x = np.random.default_rng(1).standard_normal((3, 3000)).astype(np.float32)
    ts = np.arange(3000) / 250.0
    whole = Windower(3, 250, 25).all_windows(x, ts, 0.0)
    pieces: list = []
    w = Windower(3, 250, 25)
    for a, b in _chunks(3000, np.random.default_rng(2)):
        pieces.extend(w.all_windows(x[:, a:b], ts[a:b], 0.0))
    assert len(whole) == len(pieces) == (3000 - 250) // 25 + 1
    for p, q in zip(whole, pieces, strict=True):
        assert p.index == q.index and p.t_last == q.t_last
        np.testing.assert_array_equal(p.data, q.data)
    # one late chunk crossing boundaries: one window, ending on the newest boundary (grid) or at
    # the newest sample in hand (live default)
    for grid, end in ((True, 300), (False, 310)):
        live = Windower(3, 250, 25, grid=grid)
        live(x[:, :250], ts[:250], 0.0)
        win = live(x[:, 250:310], ts[250:310], 0.0)
        assert win.index == end and win.skipped == 1 and win.t_last == ts[end - 1]
        np.testing.assert_array_equal(win.data, x[:, end - 250 : end])


def _offline_auc(decoder: Path, test: Path) -> float:
    """AUC of the exported model on the test file's epochs cut as calibration cuts them."""
    from sklearn.metrics import roc_auc_score

    from bci import DecoderONNX
    from bci.config import load_config
    from bci.config._calibration import CalibrationConfig
    from bci.models.calibration import load_trials

    root = Path(__file__).resolve().parents[2]
    cfg = load_config(root / "configs" / "calibrate_sim-p300.yaml", CalibrationConfig)
    trials = load_trials([test], cfg)
    probs = DecoderONNX(decoder).decode_batch(trials.X)
    return float(roc_auc_score(trials.y == cfg.classes.index("target"), probs[:, 1]))


def test_p300_decodes_event_locked_in_virtual_time(p300_decoder: Path, tmp_path: Path) -> None:
    """Acceptance: one decision per onset, none between, pseudo-online AUC = offline AUC +- 0.05."""
    from sklearn.metrics import roc_auc_score

    import bci

    test = write_simulated_xdf(tmp_path / "test.xdf", 150.0, "p300", seed=0, schedule_seed=7)
    (res,) = bci.decode_recording(p300_decoder, [test])
    assert res.event_locked and res.class_names == ("nontarget", "target")
    onsets = [(t, v) for t, v in res.markers if v in ("target", "nontarget")]
    d = res.decisions
    complete = [t for t, _ in onsets if t + 0.8 <= res.duration_s]
    assert len(d) == len(complete) >= 200  # one decision per onset, nothing between
    np.testing.assert_allclose(d["onset"], complete)
    np.testing.assert_allclose(d["t_sample"] - d["onset"], 0.796, atol=0.0025)  # 200th sample
    online = roc_auc_score(d["marker"] == "target", d["probs"][:, 1])
    offline = _offline_auc(p300_decoder, test)
    assert online > 0.7, online
    assert abs(online - offline) <= 0.05, (online, offline)


def test_bci_run_decodes_one_epoch_per_flash(p300_decoder: Path, tmp_path: Path, uid: str) -> None:
    """``bci run`` with the simulated participant's oddball: decisions only at flash onsets."""
    import pyxdf

    cfg = {
        "name": f"s{uid}",
        "sources": [
            {
                "kind": "simulated",
                "paradigm": "p300",
                "name": f"sim-{uid}",
                "markers": f"mk-{uid}",
                "stimuli": f"st-{uid}",
                "truth": f"tr-{uid}",
            }
        ],
        "window": {"markers": f"mk-{uid}"},
        "decoder": {"path": str(p300_decoder), "warmup": 2},
        "outputs": {"lsl": {"name": f"dec-{uid}"}, "mqtt": {"enabled": False}},
        "recording": {"directory": str(tmp_path / "rec")},
    }
    path = tmp_path / "p300.yaml"
    path.write_text(yaml.safe_dump(cfg))
    args = [sys.executable, "-c", CLI, "run", str(path), "--duration", "14", "--no-live"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    streams, _ = pyxdf.load_xdf(
        str(next((tmp_path / "rec").glob("*.xdf"))), dejitter_timestamps=False
    )
    by = {s["info"]["name"][0]: s for s in streams}
    marks = np.asarray(by[f"mk-{uid}"]["time_stamps"])
    dec_t = np.asarray(by[f"dec-{uid}"]["time_stamps"])
    assert len(dec_t) >= 12, out.stdout + out.stderr  # ~1.6 flashes/s over ~12 s
    # every decision is the epoch of one flash: its last sample is ~0.8 s after that onset
    lag = dec_t[:, None] - marks[None, :]
    nearest = np.min(np.where(lag > 0, np.abs(lag - 0.796), np.inf), axis=1)
    assert np.all(nearest < 0.01), nearest
    # and every flash whose epoch ended before the session did got exactly one decision
    done = marks[marks + 0.8 < dec_t.max()]
    assert abs(len(done) - len(dec_t)) <= 1, (len(done), len(dec_t))


def test_real_muse_p300_decodes_event_locked(shared_data: Path, tmp_path: Path) -> None:
    """A real Muse P300 run (jittery, millisecond-quantized timestamps), decoder calibrated on
    the subject's other runs: one decision per onset, pseudo-online AUC = offline +- 0.05, and
    an 8x LSL replay gives the same probabilities as virtual time."""
    from sklearn.metrics import roc_auc_score

    import bci
    from bci.config import load_config
    from bci.config._calibration import CalibrationConfig
    from bci.models.calibration import calibrate, load_trials

    files = sorted((shared_data / "muse-p300" / "subject1").rglob("*.csv"))
    if len(files) < 3:
        pytest.skip("muse-p300 subject1 runs are missing")
    root = Path(__file__).resolve().parents[2]
    cfg = load_config(root / "configs" / "calibrate_muse-p300.yaml", CalibrationConfig)
    cfg = cfg.model_copy(update={"strategies": ["features"], "sessions": "none"})
    train, test = files[:-1], files[-1:]
    calibrate(train, cfg, tmp_path / "cal", progress=False, learning=False, shortcut=False)
    (res,) = bci.decode_recording(tmp_path / "cal", test, calibration=cfg)
    d = res.decisions
    onsets = [t for t, v in res.markers if v in cfg.mapping]
    assert res.event_locked and len(d) == len(onsets) - res.counters["onsets_incomplete"]
    y = np.array([cfg.mapping.get(m, "") for m in d["marker"]]) == cfg.positive
    online = roc_auc_score(y, d["probs"][:, 1])
    trials = load_trials(test, cfg)
    probs = bci.DecoderONNX(tmp_path / "cal").decode_batch(trials.X)
    offline = roc_auc_score(trials.y == cfg.classes.index(cfg.positive), probs[:, 1])
    assert abs(online - offline) <= 0.05, (online, offline)
    (live,) = bci.decode_recording(tmp_path / "cal", test, calibration=cfg, speed=8.0)
    assert len(live.decisions) == len(d)
    np.testing.assert_allclose(live.decisions["probs"], d["probs"], atol=1e-4)
