"""The PsychoPy presenter under Xvfb: flip-stamped markers and descriptions on LSL, screenshots."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

pylsl = pytest.importorskip("pylsl")

from bci.config._closed_loop import PresenterConfig, SafetyConfig  # noqa: E402
from bci.stimuli import Stimulus  # noqa: E402
from bci.stimuli._presenter import Presenter  # noqa: E402

pytestmark = pytest.mark.skipif(
    not os.environ.get("DISPLAY"), reason="needs a display (run under xvfb-run)"
)


def _inlet(name: str) -> pylsl.StreamInlet:
    infos = pylsl.resolve_byprop("name", name, timeout=10.0)
    assert infos, f"stream {name} not found"
    inlet = pylsl.StreamInlet(infos[0], max_buflen=60)
    inlet.open_stream(timeout=5.0)
    return inlet


def _pull_all(inlet: pylsl.StreamInlet, n: int, timeout: float = 10.0) -> tuple[list, list]:
    values, stamps = [], []
    end = time.monotonic() + timeout
    while len(values) < n and time.monotonic() < end:
        sample, ts = inlet.pull_sample(timeout=0.2)
        if sample is not None:
            values.append(sample[0])
            stamps.append(ts)
    return values, stamps


def test_presenter_100_frames_markers_flip_times_screenshot(uid, tmp_path):
    cfg = PresenterConfig(
        size=[400, 300], marker_stream=f"bci-markers-{uid}", description_stream=f"bci-stimuli-{uid}"
    )
    rng = np.random.default_rng(0)
    checker = (np.indices((32, 32)).sum(0) // 8 % 2).astype(float) * 0.6 + 0.2  # dark/light squares
    with Presenter(cfg, SafetyConfig(), screenshot_dir=tmp_path / "shots") as pres:
        markers, descs = _inlet(cfg.marker_stream), _inlet(cfg.description_stream)
        n = 100
        for k in range(n):
            img = checker if k == 0 else np.clip(0.5 + 0.1 * rng.standard_normal((32, 32)), 0, 1)
            pres.show(
                Stimulus(
                    kind="image",
                    label=f"frame_{k:03d}",
                    duration=1 / 60,
                    image=img,
                    size_px=(128, 128),
                ),
                k,
            )
        shown = pres.results(n, timeout=60)
        labels, stamps = _pull_all(markers, n)
        djson, dstamps = _pull_all(descs, 2 * n)  # onset and offset of every stimulus
        markers.close_stream()
        descs.close_stream()
    assert [s.stim_id for s in shown] == list(range(n))
    assert all(s.n_frames == 1 and not s.aborted for s in shown)
    assert labels == [f"frame_{k:03d}" for k in range(n)]
    flips = np.array([s.flip_time for s in shown])
    assert np.all(np.diff(flips) > 0), "flip times must increase"
    every = [json.loads(d) for d in djson]
    offsets = [t for d, t in zip(every, dstamps, strict=True) if d["label"] == "end"]
    dstamps = [t for d, t in zip(every, dstamps, strict=True) if d["label"] != "end"]
    assert np.allclose(stamps, flips, atol=1e-6) and np.allclose(dstamps, flips, atol=1e-6)
    assert np.allclose(offsets, [s.last_flip for s in shown], atol=1e-6)
    parsed = [d for d in every if d["label"] != "end"]
    assert [d["id"] for d in parsed] == list(range(n))
    assert (
        parsed[0]["kind"] == "image"
        and parsed[0]["image"]["h"] == 32
        and "clamps" in parsed[0]["safety"]
    )
    # The screenshot of frame 0 shows the checkerboard in the window centre, gray around it.
    from PIL import Image

    shot = np.asarray(Image.open(shown[0].screenshot).convert("L"), dtype=float) / 255.0
    h, w = shot.shape
    centre = shot[h // 2 - 50 : h // 2 + 50, w // 2 - 50 : w // 2 + 50]
    border = shot[:20, :20]
    assert centre.std() > 0.2, f"stimulus not visible: centre std {centre.std():.3f}"
    assert border.std() < 0.02 and abs(border.mean() - 0.5) < 0.05, (
        "background should be uniform mid-gray"
    )
    assert centre.min() < 0.3 and centre.max() > 0.7


def test_presenter_refuses_unsafe_flicker_and_aborts(uid):
    cfg = PresenterConfig(
        size=[300, 200], marker_stream=f"bci-markers-{uid}", description_stream=f"bci-stimuli-{uid}"
    )
    with Presenter(cfg, SafetyConfig()) as pres:
        bad = Stimulus(
            kind="flicker",
            label="ssvep_10.0",
            duration=1.0,
            image=np.ones((8, 8)),
            frequency=10.0,
            size_px=(1000, 1000),
        )
        pres.show(bad, 0)
        (reply,) = pres.results(1)
        assert reply.kind == "SafetyError" and "screened_participant" in reply.error
        long = Stimulus(kind="image", label="long", duration=30.0, image=np.full((8, 8), 0.6))
        t0 = time.monotonic()
        pres.show(long, 1)
        time.sleep(0.3)
        pres.abort()
        (reply,) = pres.results(1, timeout=10)
        assert reply.aborted and time.monotonic() - t0 < 5.0


def test_live_closed_loop_writes_its_xdf_with_stimulus_durations_within_a_frame(
    tmp_path, uid, live_loop_config
):
    import pyxdf

    from bci.stimuli import run_closed_loop

    cfg = live_loop_config(
        iti=0.3, optimizer={"steps": 5, "threads": 1}, presenter={"screenshots": False}
    )
    run_closed_loop(cfg)
    (path,) = tmp_path.glob("live_*.xdf")
    streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    by = {s["info"]["name"][0]: s for s in streams}
    assert {f"bci-sim-{uid}", f"bci-markers-{uid}", f"bci-stimuli-{uid}"} <= set(by)
    d = by[f"bci-stimuli-{uid}"]
    descs = [json.loads(v[0]) for v in d["time_series"]]
    t = np.asarray(d["time_stamps"])
    shown = [i for i, x in enumerate(descs) if x["kind"] in ("image", "flicker")]
    assert len(shown) >= 4  # calibration + round stimuli
    for i in shown:
        end = descs[i + 1]
        assert (end["kind"], end["label"], end["id"]) == ("off", "end", descs[i]["id"])
        # 60 frames at the measured 60 Hz (paced by the clock under Xvfb): within one frame
        assert abs((t[i + 1] - t[i]) - 1.0) <= 1 / 60 + 1e-3
    m = by[f"bci-markers-{uid}"]
    assert np.min(np.abs(np.asarray(m["time_stamps"]) - t[shown[0]])) < 1e-4
    eeg = by[f"bci-sim-{uid}"]["time_stamps"]
    assert eeg[0] < t[0] and eeg[-1] > t[shown[-1]]
