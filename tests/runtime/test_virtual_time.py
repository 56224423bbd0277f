"""Virtual time and replay: same decisions as a 1x LSL replay, one clock per replayed file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import bci

from .conftest import write_simulated_xdf

CLI = "from bci._commands.main import run; run()"


@pytest.fixture(scope="module")
def excerpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 s of the simulated participant's SSVEP paradigm (16 ch @ 250 Hz) with its markers."""
    return write_simulated_xdf(tmp_path_factory.mktemp("vt") / "sim60.xdf", 60.0, "ssvep", seed=3)


def _same(a: np.ndarray, b: np.ndarray) -> None:
    for name in a.dtype.names:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def _match(virtual: np.ndarray, live: np.ndarray) -> np.ndarray:
    """Index of each live decision's window among the virtual ones (by newest-sample time)."""
    idx = np.clip(np.searchsorted(virtual["t_last"], live["t_last"] - 1e-3), 0, len(virtual) - 1)
    np.testing.assert_allclose(virtual["t_last"][idx], live["t_last"], atol=1e-4)
    np.testing.assert_allclose(virtual["t_first"][idx], live["t_first"], atol=1e-4)
    return idx


def test_virtual_time_equals_a_1x_lsl_replay(excerpt: Path, tiny_onnx: Path) -> None:
    """Same windows, same outputs (float32 tolerance); virtual time is deterministic and fast."""
    (v1,) = bci.decode_recording(tiny_onnx, [excerpt])
    (v2,) = bci.decode_recording(tiny_onnx, [excerpt])
    _same(v1.decisions, v2.decisions)
    assert not v1.event_locked and len(v1.decisions) == (15000 - 250) // 25 + 1
    assert v1.duration_s == pytest.approx(60.0)
    assert v1.realtime_factor > 100, v1.wall_s  # pipeline alone: ~2000x here
    (live,) = bci.decode_recording(tiny_onnx, [excerpt], speed=1.0)
    assert live.speed == 1.0 and live.wall_s > 55
    d = live.decisions
    # a loaded host may drop a stale window or skip a hop live; every other window is there
    assert len(d) >= 0.97 * len(v1.decisions), live.counters
    idx = _match(v1.decisions, d)
    np.testing.assert_allclose(d["raw"], v1.decisions["raw"][idx], atol=1e-5)
    np.testing.assert_allclose(d["probs"], v1.decisions["probs"][idx], atol=1e-5)
    np.testing.assert_array_equal(d["label_index"], v1.decisions["label_index"][idx])
    assert live.latency_ms["transport"]["p50"] >= 0
    assert [m[1] for m in live.markers] == [m[1] for m in v1.markers]


def test_event_locked_replay_at_speed_4_equals_virtual_time(
    p300_decoder: Path, tmp_path: Path
) -> None:
    """Event-locked decoding over an LSL replay at 4x: the same epochs as virtual time."""
    test = write_simulated_xdf(tmp_path / "p300.xdf", 40.0, "p300", seed=0, schedule_seed=11)
    (v,) = bci.decode_recording(p300_decoder, [test])
    (live,) = bci.decode_recording(p300_decoder, [test], speed=4.0)
    assert v.event_locked and live.event_locked
    assert len(live.decisions) == len(v.decisions) >= 55
    np.testing.assert_allclose(live.decisions["onset"], v.decisions["onset"], atol=1e-4)
    np.testing.assert_allclose(live.decisions["probs"], v.decisions["probs"], atol=1e-4)


def test_replay_session_ends_with_its_file_on_one_clock(excerpt: Path, tmp_path: Path, uid: str):
    """``bci run`` on a replay at speed 4 stops at the end of the file with its summary; EEG and
    markers in the session XDF share the replay schedule and no latency is negative."""
    import pyxdf

    cfg = {
        "name": f"s{uid}",
        "sources": [{"kind": "replay", "path": str(excerpt), "speed": 4.0}],
        "decoder": {"warmup": 2},
        "outputs": {"lsl": {"name": f"dec-{uid}"}, "mqtt": {"enabled": False}},
        "recording": {"directory": str(tmp_path / "rec")},
    }
    path = tmp_path / "replay_session.yaml"  # a session config named like a replay mapping
    path.write_text(yaml.safe_dump(cfg))
    out = subprocess.run(
        [sys.executable, "-c", CLI, "run", str(path), "--no-live"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    assert "end of the recording" in text and "decisions in" in text, text
    streams, _ = pyxdf.load_xdf(
        str(next((tmp_path / "rec").glob("*.xdf"))), dejitter_timestamps=False
    )
    by = {s["info"]["name"][0]: s for s in streams}
    eeg = np.asarray(by["bci-sim"]["time_stamps"])
    marks = np.asarray(by["bci-markers"]["time_stamps"])
    assert len(eeg) == 15000  # the whole file, from its first sample
    assert eeg[-1] - eeg[0] == pytest.approx(59.996 / 4, abs=1e-3)
    # markers are at file time / 4 from the first sample, like the EEG (1 s + 3 s * k)
    np.testing.assert_allclose(marks - eeg[0], np.round((marks - eeg[0]) * 4) / 4, atol=1e-3)
    assert eeg[0] <= marks[0] and marks[-1] <= eeg[-1]
    assert marks[0] - eeg[0] == pytest.approx(1.0 / 4, abs=1e-3)
    stamps = np.asarray(by[f"dec-{uid}-stamps"]["time_series"])
    assert len(stamps) > 400
    transport = stamps[:, 1] - stamps[:, 0]
    assert transport.min() >= 0, transport.min()
    assert (stamps[:, 3] - stamps[:, 0]).min() > 0
