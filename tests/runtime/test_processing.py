"""Unit tests of the pure processing steps: filters, resampling, ring, windows, post-processing, stats."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from bci import ConfigError
from bci._runtime._filters import (
    ChannelSelect,
    NonFiniteGuard,
    Preprocessor,
    PreprocessSettings,
    Rereference,
    Resample,
    SOSFilter,
    bandpass,
    notch,
)
from bci._runtime._postprocess import PostProcessor, PostprocessSettings
from bci._runtime._stats import Budgets, LatencyStats
from bci._runtime._window import RingBuffer, Windower

FS = 250.0


def _chunks(x: np.ndarray, sizes: list[int]):
    i = 0
    for n in sizes:
        yield x[:, i : i + n]
        i += n


def test_bandpass_chunked_equals_whole_and_passes_band() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(2500) / FS
    x = np.vstack(
        [np.sin(2 * np.pi * 10 * t), np.sin(2 * np.pi * 100 * t), rng.standard_normal(t.size)]
    )
    whole = bandpass(1.0, 40.0, FS, 3)(x)
    f = bandpass(1.0, 40.0, FS, 3)
    sizes = list(rng.integers(1, 40, 200))
    sizes.append(x.shape[1] - sum(sizes))
    parts = np.concatenate([f(c) for c in _chunks(x, sizes)], axis=1)
    np.testing.assert_allclose(parts, whole, atol=1e-10)
    # 10 Hz passes, 100 Hz is removed (steady state, last 4 s)
    assert np.std(whole[0, -1000:]) > 0.6
    assert np.std(whole[1, -1000:]) < 0.01
    # causal: the output before an impulse is untouched
    imp = np.zeros((1, 500))
    imp[0, 300] = 1
    out = bandpass(1.0, 40.0, FS, 1)(imp)
    assert np.all(out[0, :300] == 0)
    f.reset()
    assert f._zi is None


def test_notch_removes_line_noise() -> None:
    t = np.arange(5000) / FS
    x = np.vstack([np.sin(2 * np.pi * 50 * t) + np.sin(2 * np.pi * 10 * t)])
    y = notch(50.0, FS, 1)(x)
    spec = np.abs(np.fft.rfft(y[0, -2500:]))
    freqs = np.fft.rfftfreq(2500, 1 / FS)
    assert spec[freqs == 50][0] < 0.02 * spec[freqs == 10][0]
    with pytest.raises(ConfigError, match="Nyquist"):
        notch(200.0, FS, 1)
    with pytest.raises(ConfigError, match="Nyquist"):
        bandpass(1.0, 130.0, FS, 1)


def test_reref_and_channel_select() -> None:
    x = np.arange(12, dtype=float).reshape(3, 4)
    np.testing.assert_allclose(Rereference(["a", "b", "c"], "average")(x).mean(axis=0), 0)
    np.testing.assert_allclose(Rereference(["a", "b", "c"], ["a"])(x)[0], 0)
    sel = ChannelSelect(["a", "b", "c"], ["c", "a"])
    np.testing.assert_array_equal(sel(x), x[[2, 0]])
    with pytest.raises(ConfigError, match=r"\['z'\]"):
        ChannelSelect(["a", "b"], ["z"])
    with pytest.raises(ConfigError, match="reref"):
        Rereference(["a"], ["q"])


@pytest.mark.parametrize(
    ("fin", "fout"), [(500.0, 250.0), (1000.0, 250.0), (250.0, 500.0), (256.0, 250.0)]
)
def test_resample_is_stateful_and_exact_in_rate(fin: float, fout: float) -> None:
    n = int(fin * 4)
    t = np.arange(n) / fin
    x = np.sin(2 * np.pi * 7 * t)[None]
    rs = Resample(fin, fout, 1)
    rng = np.random.default_rng(0)
    outs, offs, start = [], [], 0
    while start < n:
        k = int(rng.integers(1, 60))
        outs.append(rs(x[:, start : start + k]))
        offs.append(rs.offsets + start)
        start += k
    y = np.concatenate(outs, axis=1)[0]
    pos = np.concatenate(offs)
    assert abs(y.size - n * fout / fin) <= 1
    np.testing.assert_allclose(np.diff(pos), fin / fout, atol=1e-9)  # no drift, no gap
    # after the anti-alias transient the 7 Hz sine survives with its amplitude
    ref = (
        signal.sosfilt(signal.butter(8, 0.45 * min(fin, fout), fs=fin, output="sos"), x[0])
        if fout < fin
        else x[0]
    )
    expected = np.interp(pos, np.arange(n), ref)
    np.testing.assert_allclose(y[y.size // 2 :], expected[y.size // 2 :], atol=2e-2)


def test_preprocessor_chain_describes_itself() -> None:
    names = ("a", "b", "c", "d")
    pre = Preprocessor(
        PreprocessSettings(500.0, names, (1.0, 40.0), 50.0, "average", 250.0, ("d", "b"))
    )
    assert pre.ch_names == ["d", "b"] and pre.sfreq == 250.0
    y = pre(np.random.default_rng(0).standard_normal((4, 100)).astype(np.float32))
    assert y.dtype == np.float32 and y.shape == (2, 50)
    assert "bandpass=1-40 Hz" in pre.describe() and "resample 500->250 Hz" in pre.describe()


def test_nonfinite_guard_counts_and_keeps_filters_finite() -> None:
    g = NonFiniteGuard(2)
    x = np.ones((2, 10), np.float32)
    x[0, 3] = np.nan
    x[1, 5:7] = np.inf
    clean, bad = g(x)
    np.testing.assert_array_equal(bad, [3, 5, 6])
    assert g.n_bad_samples == 3 and np.isfinite(clean).all()
    assert g(np.ones((2, 4), np.float32))[1] is None


def test_ring_buffer_wraps_without_allocation() -> None:
    ring = RingBuffer(2, 7)
    data = np.arange(40, dtype=np.float32).reshape(2, 20)
    ts = np.arange(20.0)
    for c in range(0, 20, 3):
        ring.write(data[:, c : c + 3], ts[c : c + 3])
    out = np.empty((2, 5), np.float32)
    got, times = ring.latest(5, out)
    assert got is out
    np.testing.assert_array_equal(got, data[:, 15:20])
    np.testing.assert_array_equal(times, ts[15:20])
    ring.write(data, ts)  # larger than capacity keeps the newest
    np.testing.assert_array_equal(ring.latest(7)[0], data[:, 13:])
    with pytest.raises(ValueError, match="holds 7"):
        ring.latest(8)


def test_windower_emits_on_the_chunk_completing_the_hop() -> None:
    w = Windower(1, n_times=10, hop=4)
    x = np.arange(100, dtype=np.float32)[None]
    ts = np.arange(100.0)
    out = []
    for i in range(30):  # one sample per chunk
        win = w(x[:, i : i + 1], ts[i : i + 1], t_pull=float(i))
        if win is not None:
            out.append((i, win))
    assert [i for i, _ in out] == [9, 13, 17, 21, 25, 29]
    i, win = out[1]
    np.testing.assert_array_equal(win.data[0], x[0, 4:14])
    assert win.t_last == 13.0 and win.t_first == 4.0 and win.skipped == 0
    # a big late chunk crossing 3 boundaries gives one window ending at its newest sample
    win = w(x[:, 30:42], ts[30:42], t_pull=42.0)
    assert win is not None and win.t_last == 41.0 and win.skipped == 2 and w.n_skipped == 2
    # the grid does not drift: the next boundary is 10 + 9 * 4 = 46 samples
    assert w(x[:, 42:45], ts[42:45], 0.0) is None
    assert w(x[:, 45:46], ts[45:46], 0.0) is not None


def test_windower_flags_windows_over_bad_samples() -> None:
    w = Windower(1, n_times=10, hop=5)
    w(np.zeros((1, 10), np.float32), np.arange(10.0), 0.0)
    w.mark_bad(np.array([2]))
    win = w(np.zeros((1, 5), np.float32), np.arange(10.0, 15.0), 0.0)
    assert w.window_is_bad(win)  # sample 12 is inside 5..14
    w(np.zeros((1, 5), np.float32), np.arange(15.0, 20.0), 0.0)
    win = w(np.zeros((1, 5), np.float32), np.arange(20.0, 25.0), 0.0)
    assert not w.window_is_bad(win)  # 15..24


def test_postprocessor_smoothing_threshold_dwell() -> None:
    pp = PostProcessor(PostprocessSettings(smoothing=2, threshold=0.6, dwell=2), 2, ["a", "b"])
    seq = [[0.9, 0.1], [0.9, 0.1], [0.1, 0.9], [0.1, 0.9], [0.1, 0.9], [0.5, 0.5]]
    labels = [pp.label(pp(np.array(v))[1]) for v in seq]
    # smoothed: .9, .9 (a x2 -> emit), .5 (below threshold), .1/.9 (b, streak 1), b x2 -> emit, .3/.7 b
    assert labels == [None, "a", None, None, "b", "b"]
    pp.reset()
    assert pp(np.array([0.2, 0.8]))[1] == -1
    with pytest.raises(ValueError, match="3 classes"):
        PostProcessor(PostprocessSettings(), 2, ["a", "b", "c"])


def test_latency_stats_percentiles_and_overruns() -> None:
    st = LatencyStats(Budgets(transport_ms=1, processing_ms=2, output_ms=1, decision_ms=3), size=50)
    for i in range(100):
        over = st(
            {
                "t_sample": 0.0,
                "t_pull": 0.0005,
                "t_decoded": 0.0015 + (0.005 if i == 99 else 0),
                "t_published": 0.002 + (0.005 if i == 99 else 0),
            }
        )
    assert over == ["processing", "decision"]
    assert st.overruns == {"transport": 0, "processing": 1, "output": 0, "decision": 1}
    p = st.percentiles("decision")
    assert p["p50"] == pytest.approx(2.0) and p["max"] == pytest.approx(7.0)
    assert st.values("decision").size == 50  # bounded


def test_preprocessor_runs_notch_and_bandpass_as_one_cascade() -> None:
    """The merged cascade gives the samples of the notch then the band-pass, state included."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((4, 600)) * 20 + 50).astype(np.float32)  # a DC offset too
    names = tuple(f"c{i}" for i in range(4))
    pre = Preprocessor(
        PreprocessSettings(sfreq=250.0, ch_names=names, bandpass=(1.0, 40.0), notch=50.0)
    )
    assert sum(isinstance(st, SOSFilter) for st in pre.steps) == 1
    n, bp = notch(50.0, 250.0, 4), bandpass(1.0, 40.0, 250.0, 4)
    expected = np.concatenate([bp(n(x[:, i : i + 25])) for i in range(0, 600, 25)], axis=1)
    got = np.concatenate([pre(x[:, i : i + 25]) for i in range(0, 600, 25)], axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("chunk", [1, 3, SOSFilter.small_chunk + 1])
def test_small_chunks_take_the_state_space_step_and_match_sosfilt(chunk: int) -> None:
    """Live pulls of 1-4 samples use the per-sample step; it shares sosfilt's state exactly."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((16, 2000)) * 20 + 30
    sos = np.vstack(
        [signal.tf2sos(*signal.iirnotch(50.0, 30.0, fs=FS)), bandpass(1.0, 40.0, FS, 1).sos]
    )
    zi = signal.sosfilt_zi(sos)[:, None, :] * x[None, :, 0, None]
    expected, _ = signal.sosfilt(sos, x, axis=-1, zi=zi)
    f = SOSFilter(sos, 16)
    got = np.concatenate([f(x[:, i : i + chunk]) for i in range(0, x.shape[1], chunk)], axis=1)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
