"""The simulated participant responds to the frames the presenter drew (its frame log)."""

from __future__ import annotations

import numpy as np
import pytest

from bci.config import SimulatedSourceConfig
from bci.devices.simulated._frames import FrameResponse
from bci.devices.simulated._offline import make_engine
from bci.stimuli._paradigm import DIM, ssvep_level

NAMES = ("f8", "f10", "f12", "f14")
FREQS = (8.0, 10.0, 12.0, 14.0)


def _model() -> FrameResponse:
    engine = make_engine(SimulatedSourceConfig(seed=0))
    model = FrameResponse(engine, t0=0.0)
    model.set_names(NAMES)
    return model


def _flicker(model: FrameResponse, drawn: tuple[float, ...], seconds: float = 4.0) -> None:
    k = np.arange(int(seconds * 60))
    levels = np.array([[ssvep_level(f, 0.0, 0.8, i, 60.0) for f in drawn] for i in k])
    model.add(0.5 + k / 60.0, levels)


def _peak(model: FrameResponse, candidates: np.ndarray) -> float:
    fs = model.fs
    y = model.render(0, int(4.5 * fs))
    oz = y[int(np.argmax(model.topo))]
    seg = oz[int(1.0 * fs) : int(4.5 * fs)]
    t = np.arange(seg.size) / fs
    power = [np.abs(np.exp(-2j * np.pi * f * t) @ seg) for f in candidates]
    return float(candidates[int(np.argmax(power))])


@pytest.mark.parametrize("attended", [0, 1, 2, 3])
def test_ssvep_follows_the_attended_targets_drawn_frequency(attended: int) -> None:
    model = _model()
    model.attend(0.0, NAMES[attended])
    _flicker(model, FREQS)
    assert _peak(model, np.array(FREQS)) == FREQS[attended]


def test_a_wrongly_drawn_frequency_evokes_what_was_drawn_not_what_was_declared() -> None:
    model = _model()
    model.attend(0.0, "f10")
    _flicker(model, (8.0, 9.0, 12.0, 14.0))  # the f10 target drawn at 9 Hz
    assert _peak(model, np.arange(7.0, 15.5, 0.5)) == 9.0


def test_no_frames_no_response_and_static_frames_evoke_nothing() -> None:
    model = _model()
    assert model.render(0, 100) is None
    model.attend(0.0, "f10")
    model.add(np.arange(240) / 60.0, np.full((240, 4), 0.5))
    assert np.abs(model.render(0, 1000)).max() < 1e-9


def test_flashes_give_a_p300_only_on_the_attended_box() -> None:
    model = _model()
    model.attend(0.0, "f12")
    t, levels = [0.4], [[DIM] * 4]  # the boxes are on screen before the first flash
    for j, box in enumerate([0, 1, 2, 3, 2, 0]):  # 0.25-s SOA, 0.1-s flashes
        for k in range(15):
            lv = [DIM] * 4
            if k < 6:
                lv[box] = 1.0
            t.append(0.5 + j * 0.25 + k / 60.0)
            levels.append(lv)
    truth = model.add(np.array(t), np.array(levels))
    assert [d["label"] for d in truth] == ["f8", "f10", "f12", "f14", "f12", "f8"]
    assert [d["target"] for d in truth] == [False, False, True, False, True, False]
    assert truth[2]["onset"] == pytest.approx(1.0)
    big = [d["p300_amplitude"] for d in truth if d["target"]]
    small = [d["p300_amplitude"] for d in truth if not d["target"]]
    assert min(big) > max(small)
