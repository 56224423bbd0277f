"""P300 oddball acceptance, N170 and image responses, offline API."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from _erp import epochs_from, xdawn_lda_auc

from bci.config import SimulatedSourceConfig
from bci.devices.simulated import description, simulate


@pytest.mark.parametrize("seed", [0, 1])
def test_p300_xdawn_lda_auc_realistic(seed):
    rec, truth = simulate(SimulatedSourceConfig(seed=seed, paradigm="p300"), 300.0)
    ep, y = epochs_from(rec, truth, ("target", "nontarget"))
    assert 50 <= y.sum() <= 120
    auc = xdawn_lda_auc(ep, y)
    assert 0.75 <= auc <= 0.95, f"seed {seed}: xDAWN+LDA AUC {auc:.3f}"


def test_p300_vanishes_without_targets():
    """Shuffled labels give chance AUC: the classifier is not fooled by the pipeline."""
    rec, truth = simulate(SimulatedSourceConfig(seed=0, paradigm="p300"), 300.0)
    ep, y = epochs_from(rec, truth, ("target", "nontarget"))
    y = np.random.default_rng(0).permutation(y)
    assert abs(xdawn_lda_auc(ep, y) - 0.5) < 0.12


def test_n170_face_larger_than_house():
    rec, truth = simulate(SimulatedSourceConfig(seed=0, paradigm="n170"), 120.0)
    faces = [t["n170_amplitude"] for t in truth if t["label"] == "face"]
    houses = [t["n170_amplitude"] for t in truth if t["label"] == "house"]
    assert np.mean(faces) > 2 * np.mean(houses)
    ep, y = epochs_from(rec, truth, ("face", "house"), band=(1.0, 30.0))
    t170 = int(0.17 * 50)
    ch = list(rec.signals[0].spec.ch_names)
    lateral = [ch.index(c) for c in ("T7", "T8", "P3", "P4")]
    diff = ep[y == 1][:, lateral, t170].mean() - ep[y == 0][:, lateral, t170].mean()
    assert diff < -1.0, f"face - house at 170 ms: {diff:.2f} uV"


def _image(pattern: np.ndarray) -> dict:
    pix = np.clip(pattern * 127 + 128, 0, 255).astype(np.uint8)
    return {"h": pix.shape[0], "w": pix.shape[1], "b64": base64.b64encode(pix.tobytes()).decode()}


def test_image_gain_hidden_model_and_adaptation():
    yy, xx = np.mgrid[0:64, 0:64]
    grating = np.sin(2 * np.pi * xx / 8.0)
    blank = np.zeros((64, 64))
    stim = [
        (1.0, description("image", "image", 0.5, 0, image=_image(grating))),
        (2.0, description("image", "image", 0.5, 1, image=_image(grating))),
        (3.0, description("image", "image", 0.5, 2, image=_image(grating))),
        (30.0, description("image", "image", 0.5, 3, image=_image(blank))),
        (
            31.0,
            description("image", "image", 2.0, 4, image=_image(grating), frequency=12.0, depth=1.0),
        ),
    ]
    _, truth = simulate(SimulatedSourceConfig(seed=0), 35.0, stim)
    # Repetition adapts: 1st > 2nd > 3rd presentation of the same image.
    adapt = [t["adaptation"] for t in truth[:3]]
    assert adapt[0] == 1.0 and adapt[0] > adapt[1] > adapt[2]
    # A blank image drives (almost) nothing compared with a grating.
    assert truth[3]["model_gain"] < 0.5 * truth[0]["model_gain"]
    # A flickering image makes an SSVEP whose amplitude follows the model.
    assert truth[4]["frequency"] == 12.0 and truth[4]["amplitude"] > 0
    # Different participants see the same image differently.
    _, other = simulate(SimulatedSourceConfig(seed=1), 5.0, stim[:1])
    assert other[0]["model_gain"] != pytest.approx(truth[0]["model_gain"], rel=1e-3)
