"""Pause and abort keys pressed on the real PsychoPy window (X key events from xdotool).

``bci calibrate --live`` runs as a subprocess under the test's X display; the test watches
its marker stream, presses the keys with ``xdotool`` (XTEST: the same path as a keyboard),
then loads the recording with pyxdf.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pylsl
import pytest
import yaml

from bci.stimuli._paradigm import write_placeholder_images

pytestmark = [
    pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs a display (xvfb-run)"),
    pytest.mark.skipif(shutil.which("xdotool") is None, reason="needs xdotool (tools/install.sh)"),
]

ONSETS = ("face", "house")


def _press(key: str) -> None:
    subprocess.run(["xdotool", "key", key], check=True, timeout=10)


class _Markers:
    """The run's marker stream, read as it arrives."""

    def __init__(self, name: str, proc: subprocess.Popen, log: Path) -> None:
        self.proc, self.log = proc, log
        end = time.monotonic() + 90.0
        found: list = []
        while not found and time.monotonic() < end and proc.poll() is None:
            found = pylsl.resolve_bypred(f"name='{name}'", 1, 1.0)
        assert found, f"marker stream {name!r} did not appear (exit code {proc.poll()}){self}"
        self.inlet = pylsl.StreamInlet(found[0], max_buflen=60)
        self.inlet.open_stream(timeout=10.0)
        self.values: list[str] = []

    def wait_for(self, pred, timeout: float = 30.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            chunk, _ = self.inlet.pull_chunk(timeout=0.1)
            self.values += [c[0] for c in chunk]
            if pred(self.values):
                return
            assert self.proc.poll() is None, f"run ended early: {self.values[-5:]}{self}"
        raise AssertionError(f"timed out; markers so far {self.values[-10:]}{self}")

    def __str__(self) -> str:
        return "\n" + self.log.read_text()[-3000:]

    def close(self) -> None:
        self.inlet.close_stream()


@contextmanager
def _bci(args: list[str], cwd: Path, log: Path, marker_stream: str) -> Iterator[_Markers]:
    """``bci ARGS`` in a subprocess with its marker stream; Escape ends it after the block.

    The output goes to ``log`` (a full pipe would block the run); the process is killed if
    the block fails.
    """
    bci = Path(sys.executable).with_name("bci")
    with log.open("w") as out:
        proc = subprocess.Popen([str(bci), *args], cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        markers = None
        try:
            markers = _Markers(marker_stream, proc, log)
            yield markers
            markers.close()  # inlets close before their outlets go
            markers = None
            _press("Escape")
            proc.wait(timeout=60)
        finally:
            if markers is not None:
                markers.close()
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _screen() -> np.ndarray:
    from PIL import ImageGrab

    return np.asarray(ImageGrab.grab(xdisplay=os.environ["DISPLAY"]).convert("L"), float)


@pytest.mark.timeout(240)
def test_pause_then_abort_keys_leave_a_gap_markers_and_a_complete_xdf(
    tmp_path: Path, uid: str
) -> None:
    import pyxdf

    pictures = write_placeholder_images(tmp_path / "pictures", n=4, size=64)
    cfg = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "configs" / "paradigm_n170.yaml").read_text()
    )
    cfg.update(
        images=str(pictures),
        instruction_seconds=0.5,
        frame_stream=f"fr-{uid}",
        window={"marker_stream": f"mk-{uid}", "description_stream": f"ds-{uid}",
                "size": [800, 600]},
    )  # fmt: skip
    paradigm = tmp_path / "paradigm_keys.yaml"
    paradigm.write_text(yaml.safe_dump(cfg))
    args = ["calibrate", "--live", "-p", str(paradigm), "--source", "simulated",
            "-o", str(tmp_path / "model")]  # fmt: skip
    with _bci(args, tmp_path, tmp_path / "calibrate.log", f"mk-{uid}") as markers:
        markers.wait_for(lambda v: sum(x in ONSETS for x in v) >= 3, timeout=60)
        _press("p")  # mid-run: the pause comes at the end of the current trial
        markers.wait_for(lambda v: "pause" in v, timeout=10)
        time.sleep(0.5)
        first = _screen()
        time.sleep(1.5)
        second = _screen()
        n_paused = sum(x in ONSETS for x in markers.values)
        _press("p")
        markers.wait_for(lambda v: "resume" in v, timeout=10)
        markers.wait_for(lambda v: sum(x in ONSETS for x in v) >= n_paused + 2, timeout=20)
    proc = markers.proc
    # the pause screen: a still screen with text, no picture coming
    assert np.array_equal(first, second)
    assert (first > 200).sum() > 50  # white text on black
    out = (tmp_path / "calibrate.log").read_text()
    assert proc.returncode == 130, out
    assert "aborted with the abort key" in out and "nothing was trained" in out
    assert not (tmp_path / "model" / "model.onnx").exists()

    rec = next((tmp_path / "recordings").glob("*.xdf"))
    streams, _ = pyxdf.load_xdf(str(rec), dejitter_timestamps=False)
    s = {st["info"]["name"][0]: st for st in streams}
    mk = s[f"mk-{uid}"]
    values = [v[0] for v in mk["time_series"]]
    times = np.asarray(mk["time_stamps"])
    assert values.count("pause") == 1 and values.count("resume") == 1
    assert values[-2:] == ["abort", "run_end"]
    t_pause, t_resume = times[values.index("pause")], times[values.index("resume")]
    assert t_resume - t_pause > 1.5  # held for the time between the two key presses
    onsets = times[[v in ONSETS for v in values]]
    before, after = onsets[onsets < t_pause], onsets[onsets > t_resume]
    assert len(before) >= 3 and len(after) >= 2
    assert not np.any((onsets > t_pause) & (onsets < t_resume))  # nothing shown while paused
    gaps = np.diff(onsets)
    assert after[0] - before[-1] > t_resume - t_pause  # the schedule was delayed
    assert np.median(gaps) < 1.5 and after[0] - before[-1] > 2 * np.median(gaps)
    # complete: the frame log runs through the pause up to the abort, the EEG covers it all
    flips = np.asarray(s[f"fr-{uid}"]["time_stamps"])
    assert np.sum((flips > t_pause) & (flips < t_resume)) > 30
    assert flips[-1] >= times[-1] - 1e-3  # run_end is a flip (per-stream clock sync)
    eeg = next(st for st in streams if st["info"]["type"][0] == "EEG")
    assert eeg["time_stamps"][0] < times[0] and eeg["time_stamps"][-1] > times[-1]


@pytest.mark.timeout(240)
def test_abort_key_ends_an_online_session_with_status_130_and_a_complete_xdf(
    tmp_path: Path, uid: str
) -> None:
    """``bci run`` with a paradigm on screen: Escape in the window ends the whole session."""
    import pyxdf
    from runtime.conftest import export_tiny_onnx

    root = Path(__file__).resolve().parents[2]
    paradigm = yaml.safe_load((root / "configs" / "paradigm_mi.yaml").read_text())
    paradigm.pop("calibration")
    paradigm.update(
        instruction_seconds=0.5,
        frame_stream=f"fr-{uid}",
        window={"marker_stream": f"mk-{uid}", "description_stream": f"ds-{uid}",
                "size": [800, 600]},
    )  # fmt: skip
    (tmp_path / "paradigm_mi_keys.yaml").write_text(yaml.safe_dump(paradigm))
    labels = [t["label"] for t in paradigm["targets"]]
    decoder = export_tiny_onnx(tmp_path / "mi.onnx", classes=labels)
    session = {
        "name": f"keys-{uid}",
        "sources": [
            {"kind": "simulated", "paradigm": "none", "name": f"sig-{uid}",
             "truth": f"truth-{uid}", "markers": f"mk-{uid}", "stimuli": f"ds-{uid}",
             "frames": f"fr-{uid}"}
        ],
        "decoder": {"path": str(decoder)},
        "window": {"length": 1.0, "hop": 0.25, "mode": "sliding"},
        "paradigm": {"name": str(tmp_path / "paradigm_mi_keys.yaml"), "trials": 10},
        "recording": {"enabled": True, "directory": str(tmp_path / "recordings")},
        "outputs": {"mqtt": {"enabled": False}, "lsl": {"name": f"dec-{uid}"}},
    }  # fmt: skip
    (tmp_path / "session.yaml").write_text(yaml.safe_dump(session))
    with _bci(
        ["run", str(tmp_path / "session.yaml")], tmp_path, tmp_path / "run.log", f"mk-{uid}"
    ) as markers:
        markers.wait_for(lambda v: any(x.endswith("s") and x[:-1] in labels for x in v), 60)
        time.sleep(1.0)  # mid-trial
    proc = markers.proc
    out = (tmp_path / "run.log").read_text()
    assert proc.returncode == 130, out
    assert "aborted with the abort key after 0 of 10 trials" in out
    rec = next((tmp_path / "recordings").rglob("*.xdf"))
    streams, _ = pyxdf.load_xdf(str(rec), dejitter_timestamps=False)
    s = {st["info"]["name"][0]: st for st in streams}
    values = [v[0] for v in s[f"mk-{uid}"]["time_series"]]
    assert values[-2:] == ["abort", "run_end"]
    assert not any(v.endswith("e") and v[:-1] in labels for v in values)  # ended mid-trial
    eeg = s[f"sig-{uid}"]["time_stamps"]
    assert eeg[-1] > s[f"mk-{uid}"]["time_stamps"][-1]
    assert len(s[f"dec-{uid}"]["time_stamps"]) > 5  # decisions recorded up to the end
