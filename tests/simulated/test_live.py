"""The live participant on real LSL outlets/inlets responds to what is pushed."""

from __future__ import annotations

import json
import time

import numpy as np
import pylsl
import pytest

from bci.config import SimulatedSourceConfig
from bci.devices import MarkerOutletLSL, SourceLSL
from bci.devices.simulated import ScheduleLSL, SimulatedParticipant, description


def _wait(cond, timeout, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return False


@pytest.fixture
def names(uid):
    return {
        k: f"{v}-{uid}"
        for k, v in (("name", "sim"), ("markers", "mk"), ("stimuli", "st"), ("truth", "gt"))
    }


def test_live_participant_responds_to_description_and_marker(names):
    cfg = SimulatedSourceConfig(seed=4, paradigm="none", snr=3.0, artifacts=0.0, **names)
    markers = MarkerOutletLSL(names["markers"], "Markers", names["markers"])
    stimuli = MarkerOutletLSL(names["stimuli"], "StimulusDescription", names["stimuli"])
    sim = SimulatedParticipant(cfg).start()
    eeg = SourceLSL(name=names["name"], timeout=10.0).connect()
    truth = SourceLSL(name=names["truth"], timeout=10.0).connect()
    chunks, events = [], []

    def drain():
        c = eeg.pull()
        if c is not None:
            chunks.append(c)
        g = truth.pull()
        if g is not None:
            events.extend(json.loads(v) for v in g.data[0])

    try:
        assert eeg.spec.n_channels == 16 and eeg.spec.sfreq == 250.0
        assert markers.wait_for_consumers(10.0) and stimuli.wait_for_consumers(10.0)
        assert _wait(lambda: drain() or sim.listening == {"marker", "desc"}, 10.0)
        assert _wait(
            lambda: (
                drain() or (chunks and chunks[-1].timestamps[-1] - chunks[0].timestamps[0] > 1.2)
            ),
            5.0,
        )
        t_flip = pylsl.local_clock() + 0.2
        desc = description("flicker", "ssvep_12.0", 3.0, 41, frequency=12.0, depth=1.0, phase=0.0)
        stimuli.push(json.dumps(desc), t_flip)
        markers.push("ssvep_12.0", t_flip)  # same stimulus: must not be counted twice
        t_target = t_flip + 3.5
        assert _wait(lambda: drain() or pylsl.local_clock() > t_target, 10.0)
        markers.push("target", t_target)  # a bare marker, no description
        assert _wait(lambda: drain() or chunks[-1].timestamps[-1] > t_target + 1.0, 10.0)
        assert _wait(lambda: drain() or any(e["label"] == "target" for e in events), 5.0)
    finally:
        truth.disconnect()
        eeg.disconnect()
        sim.stop()
    labels = [e["label"] for e in events]
    assert labels.count("ssvep_12.0") == 1 and labels.count("target") == 1
    flick = next(e for e in events if e["label"] == "ssvep_12.0")
    assert flick["id"] == 41 and flick["onset"] == pytest.approx(
        t_flip, abs=1e-3
    )  # liblsl clock correction
    assert next(e for e in events if e["label"] == "target")["p300_amplitude"] > 0
    data = np.concatenate([c.data for c in chunks], axis=1).astype(float)
    ts = np.concatenate([c.timestamps for c in chunks])
    # Sample-accurate timestamps on an absolute schedule.
    np.testing.assert_allclose(np.diff(ts), 1 / 250.0, atol=1e-6)
    # The 12 Hz SSVEP is there during the flicker and not before it.
    oz = list(sim.spec.ch_names).index("Oz")

    def power12(t_start):
        seg = data[oz, (ts >= t_start) & (ts < t_start + 2.0)]
        spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size))) / seg.size
        f = np.fft.rfftfreq(seg.size, 1 / 250.0)
        k = int(np.argmin(np.abs(f - 12.0)))
        return spec[k] / np.r_[spec[k - 6 : k - 1], spec[k + 2 : k + 7]].mean()

    assert ts[0] < t_flip - 1.0, "not enough signal before the flicker"
    assert eeg.lost_samples == 0
    assert power12(t_flip + 0.5) > 3.0
    assert power12(t_flip + 0.5) > 2 * power12(ts[0])


def test_schedule_publishes_default_ssvep_paradigm(names):
    sched = ScheduleLSL(
        "ssvep", duration=None, markers=names["markers"], stimuli=names["stimuli"], delay=0.3
    )
    mk = None
    try:
        sched.start()
        mk = SourceLSL(name=names["markers"], timeout=10.0).connect()
        got = []

        def collect():
            c = mk.pull()
            if c is not None:
                got.extend(zip(c.data[0], c.timestamps, strict=True))
            return len(got) >= 2

        assert _wait(collect, 10.0)
    finally:
        if mk is not None:
            mk.disconnect()
        sched.stop()
    (l0, t0), (l1, t1) = got[:2]
    assert l0 in {"ssvep_8.0", "ssvep_10.0", "ssvep_12.0", "ssvep_15.0"} and l1 == "rest"
    assert t1 - t0 == pytest.approx(2.0, abs=1e-6)


def test_live_emg_gesture_cue(names):
    cfg = SimulatedSourceConfig(mode="emg", seed=2, paradigm="none", **names)
    markers = MarkerOutletLSL(names["markers"], "Markers", names["markers"])
    sim = SimulatedParticipant(cfg).start()
    truth = SourceLSL(name=names["truth"], timeout=10.0).connect()
    emg = SourceLSL(name=names["name"], timeout=10.0).connect()
    events, chunks = [], []

    def drain():
        g = truth.pull()
        if g is not None:
            events.extend(json.loads(v) for v in g.data[0])
        c = emg.pull()
        if c is not None:
            chunks.append(c)

    try:
        assert emg.spec.stype == "EMG" and emg.spec.sfreq == 1000.0 and emg.spec.n_channels == 8
        assert _wait(lambda: drain() or "marker" in sim.listening, 10.0)
        t_cue = pylsl.local_clock() + 0.1
        markers.push("gesture_7", t_cue)
        assert _wait(lambda: drain() or (chunks and chunks[-1].timestamps[-1] > t_cue + 1.5), 10.0)
        assert _wait(lambda: drain() or bool(events), 5.0)
    finally:
        emg.disconnect()
        truth.disconnect()
        sim.stop()
    assert events[0]["gesture"] == 7 and events[0]["label"] == "gesture_7"
    x = np.concatenate([c.data for c in chunks], axis=1)
    ts = np.concatenate([c.timestamps for c in chunks])
    before = x[:, (ts > t_cue - 1.0) & (ts < t_cue)].std()
    during = x[:, (ts > t_cue + 0.6) & (ts < t_cue + 1.5)].std()
    assert during > 3 * before


def test_session_participant_follows_its_own_markers_not_an_earlier_namesake(names):
    """A stranger's untagged namesake seen first loses to the session's own outlet."""
    from bci._ownership import new_session_id, owned_source_id

    sid = new_session_id("t")
    cfg = SimulatedSourceConfig(seed=5, paradigm="none", snr=3.0, artifacts=0.0, **names)
    stranger = MarkerOutletLSL(names["markers"], "Markers", f"stranger-{names['markers']}")
    sim = SimulatedParticipant(cfg, session_id=sid).start()
    truth = SourceLSL(name=names["truth"], timeout=10.0).connect()
    events: list[dict] = []

    def drain():
        g = truth.pull()
        if g is not None:
            events.extend(json.loads(v) for v in g.data[0])

    try:
        time.sleep(1.0)  # the stranger is on the network; the session's outlet comes later
        own = MarkerOutletLSL(names["markers"], "Markers", owned_source_id(names["markers"], sid))
        assert _wait(lambda: drain() or "marker" in sim.listening, 10.0)
        assert own.wait_for_consumers(5.0)
        for _ in range(3):
            t = pylsl.local_clock() + 0.1
            stranger.push("ssvep_10.0", t)
            own.push("target", t + 0.25)
            time.sleep(0.5)
        assert _wait(lambda: drain() or len(events) >= 3, 5.0)
        time.sleep(0.3)
        drain()
    finally:
        truth.disconnect()
        sim.stop()
    assert [e["label"] for e in events] == ["target"] * 3
