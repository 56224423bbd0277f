"""Real LSL outlets and inlets: metadata, lossless pulls, drain to now, gaps, reconnects."""

from __future__ import annotations

import json
import time

import numpy as np
import pylsl
import pytest
from streams_helpers import CounterPump, wait_until

from bci import StreamError, StreamSpec
from bci.devices import MarkerOutletLSL, OutletLSL, SourceLSL, list_streams
from bci.devices._lsl import Dejitter


def _collect(src, pump=None, n=None, timeout=5.0):
    chunks = []

    def cond():
        if pump is not None:
            pump.step()
        c = src.pull()
        if c is not None:
            chunks.append(c)
        return n is not None and sum(c.n_times for c in chunks) >= n

    wait_until(cond, timeout, step=0.005)
    return chunks


def test_metadata_and_counter_lossless(counter_spec):
    outlet = OutletLSL(counter_spec)
    src = SourceLSL(name=counter_spec.name, timeout=5.0).connect()
    try:
        assert src.spec == counter_spec
        pump = CounterPump(outlet, 250.0, 4)
        chunks = _collect(src, pump, n=500, timeout=10.0)
        data = np.concatenate([c.data for c in chunks], axis=1)
        ts = np.concatenate([c.timestamps for c in chunks])
        assert data.dtype == np.float32 and data.shape[0] == 4
        assert data.shape[1] >= 500
        np.testing.assert_array_equal(data[0], np.arange(data.shape[1]))  # no sample lost
        # seq counts samples: each chunk starts where the previous ended
        seqs = [c.seq for c in chunks]
        np.testing.assert_array_equal(np.diff(seqs), [c.n_times for c in chunks[:-1]])
        assert all(c.t_pull >= c.timestamps[-1] for c in chunks)
        # same host: corrected + dejittered stamps within 2 ms of the pushed ones
        np.testing.assert_allclose(ts, pump.t0 + data[0] / 250.0, atol=2e-3)
        assert src.lost_samples == 0
        assert src.events() == []
    finally:
        src.disconnect()
        del outlet
    assert not src.connected
    src.disconnect()  # idempotent


def test_resolve_error_lists_visible_streams(counter_spec):
    outlet = OutletLSL(counter_spec)
    with pytest.raises(StreamError, match="Visible streams") as info:
        SourceLSL(name=counter_spec.name + "-typo", timeout=0.3).connect()
    assert counter_spec.name in str(info.value)
    del outlet


def test_drain_to_now_and_count_dropped_samples(counter_spec):
    """A consumer that stalls longer than ``bufsize`` loses the oldest samples, counted."""
    outlet = OutletLSL(counter_spec)
    src = SourceLSL(name=counter_spec.name, bufsize=1.0).connect()
    try:
        t0 = pylsl.local_clock() - 10.0
        k = np.arange(0, 50)
        outlet.push(np.vstack([k, k, k, k]).astype(np.float32), t0 + k / 250.0)
        first = _collect(src, n=50, timeout=5.0)
        assert sum(c.n_times for c in first) == 50
        # 4 s of data arrive while nobody pulls: the 1 s inlet buffer keeps the newest
        k = np.arange(50, 1050)
        outlet.push(np.vstack([k, k, k, k]).astype(np.float32), t0 + k / 250.0)
        wait_until(lambda: src._inlet.samples_available() > 0, 2.0)
        time.sleep(0.2)  # let liblsl receive everything (nothing to poll for)
        chunk = src.pull()
        assert chunk is not None
        assert chunk.data[0, -1] == 1049  # drained to "now"
        assert chunk.n_times <= 300  # capped buffer (1 s at 250 Hz plus a chunk)
        got = chunk.n_times
        assert src.lost_samples == 1000 - got
        assert chunk.seq == chunk.data[0, 0]  # seq includes the lost samples
        gaps = [json.loads(m.value) for m in src.events()]
        assert [g["event"] for g in gaps] == ["gap"] and gaps[0]["lost"] == 1000 - got
    finally:
        src.disconnect()
        del outlet


@pytest.mark.parametrize("recoverable", [True, False], ids=["source_id", "no_source_id"])
def test_outlet_vanishes_3s_and_returns(counter_spec, recoverable):
    """The outlet disappears for 3 s: silence/lost event, then reconnect and a gap event."""
    spec = counter_spec if recoverable else StreamSpec(**{**counter_spec.__dict__, "source_id": ""})
    outlet = OutletLSL(spec)
    src = SourceLSL(name=spec.name, silence_timeout=0.5).connect()
    pump = CounterPump(outlet, 250.0, 4)
    try:
        before = _collect(src, pump, n=250, timeout=5.0)
        del outlet, pump.outlet
        t_gone = time.monotonic()
        events = []
        wait_until(
            lambda: (src.pull(), events.extend(src.events()))[1] is None and bool(events), 3.0
        )
        assert json.loads(events[0].value)["event"] in ("silent", "lost")
        while time.monotonic() - t_gone < 3.0:  # stays away 3 s; pulls keep working
            assert src.pull() is None
            time.sleep(0.05)
        pump.outlet = OutletLSL(spec)
        pump.skip_to_now()
        first_new = pump.sent
        after = _collect(src, pump, n=250, timeout=10.0)
        assert after, "no data after the stream returned"
        events += src.events()
        kinds = [json.loads(m.value)["event"] for m in events]
        assert "reconnected" in kinds and "gap" in kinds, kinds
        gap = json.loads(next(m.value for m in events if '"gap"' in m.value))
        assert gap["end"] - gap["start"] > 2.9
        data = np.concatenate([c.data for c in before + after], axis=1)[0]
        np.testing.assert_array_equal(
            data[: sum(c.n_times for c in before)], np.arange(sum(c.n_times for c in before))
        )
        # after the return: contiguous from the first sample the new inlet saw
        # (an outlet sends only what is pushed once the inlet has re-connected)
        new = np.concatenate([c.data[0] for c in after])
        assert first_new <= new[0] < first_new + 2 * 250
        np.testing.assert_array_equal(new, np.arange(new[0], new[0] + new.size))
        last_before = before[-1].data[0, -1]
        assert gap["lost"] == src.lost_samples
        # the count comes from clock-corrected stamps, and the re-opened inlet has a fresh
        # clock-offset estimate: on a loaded host it may differ by a few ms (2 samples seen)
        assert abs(src.lost_samples - (new[0] - last_before - 1)) <= 3
        assert after[0].seq == new[0]  # seq stays on the sample-counter timeline
    finally:
        src.disconnect()


def test_markers_and_list_streams(uid):
    mk = MarkerOutletLSL(f"test-markers-{uid}", source_id=f"mk-{uid}")
    src = SourceLSL(name=f"test-markers-{uid}").connect()
    try:
        assert src.spec.dtype == "string" and src.spec.sfreq == 0
        mk.wait_for_consumers(2.0)
        t = pylsl.local_clock()
        for k, label in enumerate(["ssvep_12.0", "rest", "cue_left"]):
            mk.push(label, t + k * 0.1)
        chunks = _collect(src, n=3, timeout=5.0)
        values = [v for c in chunks for v in c.data[0]]
        assert values == ["ssvep_12.0", "rest", "cue_left"]
        ts = np.concatenate([c.timestamps for c in chunks])
        np.testing.assert_allclose(ts, t + np.arange(3) * 0.1, atol=1e-3)
        specs = {s.name: s for s in list_streams(timeout=1.0)}
        assert specs[f"test-markers-{uid}"].stype == "Markers"
        assert specs[f"test-markers-{uid}"].ch_names == ("marker",)
    finally:
        src.disconnect()


def test_pull_with_timeout_waits_for_the_first_sample_and_loses_none(counter_spec):
    """``pull(timeout)`` returns ``None`` after the timeout, and wakes when a sample arrives."""
    import threading

    outlet = OutletLSL(counter_spec)
    src = SourceLSL(name=counter_spec.name, timeout=5.0).connect()
    try:
        t0 = time.perf_counter()
        assert src.pull(timeout=0.2) is None
        assert 0.15 < time.perf_counter() - t0 < 2.0  # it did wait, and not forever
        block = np.arange(12, dtype=np.float32).reshape(3, 4)  # 3 samples x 4 channels
        threading.Timer(0.3, outlet.push, args=(block.T.copy(),)).start()
        t0 = time.perf_counter()
        got = []
        while sum(c.n_times for c in got) < 3 and time.perf_counter() - t0 < 5.0:
            chunk = src.pull(timeout=2.0)
            if chunk is not None:
                got.append(chunk)
        assert time.perf_counter() - t0 < 1.9  # woken by the sample, not by the timeout
        data = np.concatenate([c.data for c in got], axis=1)
        np.testing.assert_array_equal(data, block.T)  # the first sample and the rest, in order
    finally:
        src.disconnect()
        del outlet


def test_dejitter_fits_the_sample_clock_whatever_the_chunk_sizes():
    """One-sample pulls (their own fast path) and mixed chunks give the same fit.

    The sums are exponentially weighted by age, so they do not depend on how the samples
    were chunked; each chunk's newest sample is where its estimate is read.
    """
    sfreq, n = 250.0, 3000
    rng = np.random.default_rng(4)
    k = np.arange(n)
    true = 100.0 + k / (sfreq * (1 + 2e-5))  # the device clock runs 20 ppm fast
    raw = true + rng.uniform(0, 3e-3, n)  # transport jitter, always late
    one = Dejitter(sfreq)
    by_sample = np.concatenate([one(k[i : i + 1], raw[i : i + 1]) for i in range(n)])
    mixed = Dejitter(sfreq)
    sizes = rng.integers(1, 12, n)
    ends, parts, i = [], [], 0
    while i < n:
        j = min(n, i + int(sizes[i]))
        parts.append(mixed(k[i:j], raw[i:j]))
        ends.append(j - 1)
        i = j
    chunked = np.concatenate(parts)
    np.testing.assert_allclose(chunked[ends], by_sample[ends], rtol=0, atol=1e-9)
    # after the fit settles the jitter is gone: residuals around the true line are flat
    resid = by_sample[1000:] - true[1000:]
    assert np.std(resid) < 0.1 * np.std(raw[1000:] - true[1000:])
    assert np.std(np.diff(by_sample[1000:])) < 1e-5
