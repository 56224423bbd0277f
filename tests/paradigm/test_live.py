"""The paradigm presenter under Xvfb with the simulated participant, recorded to XDF.

Short smoke runs (the default suite); the long acceptance runs are marked slow.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from bci import StimulusError
from bci.config import SimulatedSourceConfig
from bci.config._paradigm import ParadigmConfig
from bci.stimuli._paradigm_show import ParadigmPresenter, load_paradigm

pytestmark = pytest.mark.skipif(
    not os.environ.get("DISPLAY"), reason="needs a display (run under xvfb-run)"
)


def _unique(cfg: ParadigmConfig, uid: str, **update) -> ParadigmConfig:
    """Stream names of this test only; the SSVEP opt-in for a simulated participant."""
    window = cfg.window.model_copy(
        update={
            "marker_stream": f"mk-{uid}",
            "description_stream": f"ds-{uid}",
            "size": [800, 600],
            "screenshots": False,
        }
    )
    safety = cfg.safety.model_copy(
        update={"screened_participant": True, "screened_reason": "simulated participant"}
    )
    return cfg.model_copy(
        update={
            "frame_stream": f"fr-{uid}",
            "window": window,
            "safety": safety,
            "instruction_seconds": 0.2,
            **update,
        }
    )


def _load(path: Path) -> dict:
    import pyxdf

    streams, _ = pyxdf.load_xdf(str(path), synchronize_clocks=True, dejitter_timestamps=False)
    return {s["info"]["name"][0]: s for s in streams}


def test_wrong_refresh_rate_is_refused_with_the_keys_to_change(uid: str) -> None:
    cfg = _unique(load_paradigm("ssvep"), uid)
    with pytest.raises(StimulusError, match=r"differs from the configured 60 Hz.*allow_mismatch"):
        ParadigmPresenter(cfg, trials=1, pace_hz=57.0).start()
    ok = cfg.model_copy(update={"display": cfg.display.model_copy(update={"allow_mismatch": True})})
    p = ParadigmPresenter(ok, trials=1, pace_hz=57.0).start()
    try:
        assert p.info["refresh_hz"] == pytest.approx(57.0, rel=2e-3)
        assert "57" in p.info["refresh_warning"]
    finally:
        p.stop()


def test_ssvep_smoke_markers_on_flips_frame_log_and_achieved_frequency(
    uid: str, tmp_path: Path
) -> None:
    from bci.models.calibration._live import record_live

    cfg = _unique(
        load_paradigm("ssvep"),
        uid,
        timing=load_paradigm("ssvep").timing.model_copy(
            update={"cue": 0.5, "stimulus": 1.5, "rest": 0.3}
        ),
    )
    src = SimulatedSourceConfig(name=f"sig-{uid}", truth=f"truth-{uid}")
    path, summary = record_live(cfg, src, tmp_path / "run.xdf", trials=2, tail=0.5)
    assert summary["trials"] == 2 and not summary["aborted"]
    assert summary["paced_by_clock"]  # Xvfb: detected and paced by the clock
    s = _load(path)
    markers = s[f"mk-{uid}"]
    values = [m[0] for m in markers["time_series"]]
    frames = s[f"fr-{uid}"]
    flips = frames["time_stamps"]
    assert list(frames["info"]["desc"][0]["channels"][0]["channel"][1]["label"]) == ["f8"]
    # every onset marker is stamped with a flip time of the frame log
    for v, t in zip(values, markers["time_stamps"], strict=True):
        if v.startswith("cue_") or v[:-1] in cfg.labels:
            assert np.min(np.abs(flips - t)) < 1e-4, v
    starts = [v for v in values if v.endswith("s") and v[:-1] in cfg.labels]
    assert len(starts) == 2
    for log in summary["logs"]:
        dropped = log["dropped"]
        assert abs(log["duration"] - 1.5) <= (1 + dropped) / 60 + 1e-6
        for t in cfg.targets:
            assert log["achieved_hz"][t.label] == pytest.approx(t.frequency, abs=0.1)
    # the participant attended the cued targets (ground truth)
    truth = [json.loads(v[0]) for v in s[f"truth-{uid}"]["time_series"]]
    attended = [d["attend"] for d in truth if d.get("attend") and d["kind"] == "trial"]
    assert attended == [v[:-1] for v in starts]
    # the EEG covers the markers
    eeg = s[f"sig-{uid}"]["time_stamps"]
    assert eeg[0] < markers["time_stamps"][0] and eeg[-1] > markers["time_stamps"][-1]


def test_p300_smoke_on_brainflow_synthetic_markers_inside_the_eeg(uid: str, tmp_path: Path) -> None:
    """What a Cyton user runs, with BrainFlow's synthetic board: flashes, XDF, one clock."""
    from bci.config import BrainFlowSourceConfig
    from bci.models.calibration._live import record_live

    cfg = _unique(
        load_paradigm("p300"),
        uid,
        timing=load_paradigm("p300").timing.model_copy(
            update={"cue": 0.3, "rest": 0.2, "repetitions": 2}
        ),
    )
    src = BrainFlowSourceConfig(board="synthetic", name=f"synth-{uid}")
    path, summary = record_live(cfg, src, tmp_path / "run.xdf", trials=1, tail=0.5)
    assert summary["trials"] == 1 and summary["logs"][0]["flashes"] == 8
    s = _load(path)
    markers = s[f"mk-{uid}"]
    values = [m[0] for m in markers["time_series"]]
    assert values.count("target") == 2 and values.count("nontarget") == 6
    flashes = [v for v in values if v.startswith("flash_")]
    assert sorted(flashes) == sorted(f"flash_{x}" for x in "ABCD" * 2)
    eeg = s[f"synth-{uid}"]["time_stamps"]
    t = markers["time_stamps"]
    assert eeg[0] < t.min() and t.max() < eeg[-1]
    # each flash lasts 6 frames (0.1 s at 60 Hz): the frame log shows it
    log = summary["logs"][0]
    assert log["flash_frame_error_max"] <= 1.0 + 1e-6


def test_abort_ends_the_run_at_once_and_the_recording_stays_loadable(
    uid: str, tmp_path: Path
) -> None:
    import threading

    from bci.devices import RecordLSL

    cfg = _unique(load_paradigm("mi"), uid)
    p = ParadigmPresenter(cfg, trials=10).start()
    rec = RecordLSL(tmp_path / "abort.xdf", [f"mk-{uid}", f"fr-{uid}"], resolve_timeout=1.0)
    rec.start()
    try:
        p.go()
        threading.Timer(4.0, p.abort).start()  # like the abort key, mid-trial
        summary = p.wait(timeout=60)
    finally:
        rec.stop()
        p.stop()
    assert summary["aborted"] and summary["trials"] < 10
    s = _load(tmp_path / "abort.xdf")
    values = [v[0] for v in s[f"mk-{uid}"]["time_series"]]
    assert "abort" in values and values[-1] == "run_end"
    assert len(s[f"fr-{uid}"]["time_stamps"]) > 100


def test_ssvep_targets_too_large_together_are_refused_naming_the_key(uid: str) -> None:
    from bci import SafetyError

    cfg = _unique(load_paradigm("ssvep"), uid, size_deg=5.0, layout_radius_deg=7.0)
    with pytest.raises(SafetyError, match=r"4 stimuli flicker at once.*flicker_max_total_deg2"):
        ParadigmPresenter(cfg, trials=1).start()
