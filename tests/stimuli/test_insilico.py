"""In-silico model, parametrizations and optimizers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bci import ConfigError
from bci.config._closed_loop import InSilicoConfig
from bci.stimuli._insilico import (
    GaborEnergy,
    InSilicoModel,
    SteerablePyramid,
    build_model,
    load_front_end,
)
from bci.stimuli._loop import grating, random_image
from bci.stimuli._optimize import (
    CMAESOptimizer,
    GradientOptimizer,
    constrain,
    make_objective,
    make_param,
)

torch.set_num_threads(1)


class TinyNet(torch.nn.Module):
    """A pluggable front end for the dotted-path test."""

    def __init__(self, size: int = 32, width: int = 4):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, width, 5, stride=4)

    def forward(self, x):
        return self.conv(x[:, None]).flatten(1)


@pytest.mark.parametrize("cls", [GaborEnergy, SteerablePyramid])
def test_front_end_is_orientation_selective(cls):
    fe = cls(size=32)
    vert = torch.tensor(grating(32, 0.2, cycles=6, orientation=0.0), dtype=torch.float32)
    horiz = torch.tensor(grating(32, 0.2, cycles=6, orientation=np.pi / 2), dtype=torch.float32)
    f = fe(torch.stack([vert, horiz])).reshape(2, fe.n_scales, fe.n_orient, -1).mean(-1)
    # the two gratings peak in different orientation channels, and a blank image gives ~0
    assert f[0].sum(0).argmax() != f[1].sum(0).argmax()
    assert fe(torch.full((1, 32, 32), 0.5)).max() < 1e-3


def test_ridge_readout_learns_a_response_function():
    model = InSilicoModel(GaborEnergy(size=32), alpha=10.0)
    imgs = np.stack(
        [random_image(32, 0.2, s) for s in range(60)]
        + [grating(32, 0.2, c, o) for c in (2, 4, 8) for o in (0, 1, 2)]
    )
    feats = model.features(torch.tensor(imgs, dtype=torch.float32)).numpy()
    w = np.random.default_rng(0).standard_normal(feats.shape[1])
    y = feats @ w
    model.fit(imgs[:50], y[:50])
    r = np.corrcoef(model.predict(imgs[50:])[:, 0], y[50:])[0, 1]
    assert r > 0.7, f"held-out correlation {r:.2f}"


def test_adam_increases_the_objective_with_fixed_contrast():
    model = InSilicoModel(SteerablePyramid(size=32))
    rng = np.random.default_rng(1)
    model.fit(np.stack([random_image(32, 0.2, s) for s in range(20)]), rng.standard_normal((20, 2)))
    for param in ("fourier", "pixel", "gabor"):
        res = GradientOptimizer(model, make_objective("maximize"), 32, param, steps=30, lr=0.05)(
            seed=0
        )
        assert res.value > res.history[0], f"{param}: {res.history[0]:.3f} -> {res.value:.3f}"
        assert 0 <= res.image.min() and res.image.max() <= 1
        assert abs(res.image.std() - 0.2) < 0.03 and abs(res.image.mean() - 0.5) < 0.03
    tgt = GradientOptimizer(model, make_objective("target", [0.5, -0.5]), 32, steps=40)(seed=0)
    assert tgt.value > tgt.history[0]


def test_flicker_parametrization_and_frame_model():
    model = InSilicoModel(GaborEnergy(size=32), frequency=7.5, frame_rate=60.0)
    res = GradientOptimizer(
        model,
        make_objective("maximize"),
        32,
        steps=5,
        flicker={"frequency": 7.5, "depth": 0.5, "n_frames": 16},
    )(seed=0)
    assert set(res.flicker) == {"frequency", "depth", "phase"} and res.flicker[
        "frequency"
    ] == pytest.approx(7.5)


def test_cmaes_improves_a_measured_objective():
    target = grating(32, 0.2, cycles=2)
    opt = CMAESOptimizer(32, contrast=0.2, popsize=8, seed=0, max_freq=3.0)
    first = None
    for _ in range(15):
        imgs = opt.ask()
        vals = [float(np.corrcoef(i.ravel(), target.ravel())[0, 1]) for i in imgs]
        first = np.mean(vals) if first is None else first
        opt.tell(vals)
    best = float(np.corrcoef(opt.best().ravel(), target.ravel())[0, 1])
    assert best > first + 0.2 and best > 0.6


def test_pluggable_front_end_by_dotted_path():
    m = build_model(
        InSilicoConfig(
            front_end="test_insilico:TinyNet", front_end_kwargs={"width": 3}, image_size=32
        )
    )
    assert isinstance(m.front_end, TinyNet) and m.features(torch.rand(2, 32, 32)).shape == (
        2,
        3 * 49,
    )
    with pytest.raises(ConfigError, match="front_end"):
        load_front_end("no.such.module:Net", 32)
    with pytest.raises(ConfigError):
        load_front_end("nonsense", 32)


def test_constrain_and_params():
    raw = make_param("fourier", 32, 0).raw()
    img = constrain(raw, 0.1).detach()
    assert img.shape == (32, 32) and abs(float(img.std()) - 0.1) < 0.01


def test_cross_validation_predicts_held_out_stimuli():
    from bci.stimuli._insilico import cross_validate

    model = InSilicoModel(GaborEnergy(size=32), alpha=10.0)
    imgs = np.stack([grating(32, 0.2, c, o) for c in (2, 3, 4, 6, 8) for o in np.linspace(0, 3, 6)])
    feats = model.features(torch.tensor(imgs, dtype=torch.float32)).numpy()
    y = feats @ np.random.default_rng(1).standard_normal(feats.shape[1])
    pred = cross_validate(model, imgs, y, folds=5)
    assert pred.shape == y.shape and np.isfinite(pred).all()
    assert np.corrcoef(pred, y)[0, 1] > 0.5
    # a response unrelated to the stimuli is not predicted
    noise = np.random.default_rng(2).standard_normal(len(y))
    assert abs(np.corrcoef(cross_validate(model, imgs, noise, folds=5), noise)[0, 1]) < 0.5
    with pytest.raises(ValueError, match="4 trials"):
        cross_validate(model, imgs[:3], y[:3])


def test_misspecified_front_end_from_the_config():
    default = build_model(InSilicoConfig(image_size=32))
    mis = build_model(InSilicoConfig(image_size=32, frequencies=[1.5, 3.0, 6.0, 12.0], n_orient=4))
    assert default.front_end.n_orient == 8 and mis.front_end.n_orient == 4
    assert mis.front_end.n_filters == 16 and default.front_end.n_filters == 32
    # the same grating drives the two banks differently (preferred frequencies shifted)
    g = torch.tensor(grating(32, 0.2, cycles=12), dtype=torch.float32)[None]
    d = default.front_end(g).reshape(4, 8, -1).mean((1, 2))
    m = mis.front_end(g).reshape(4, 4, -1).mean((1, 2))
    assert int(d.argmax()) == 2 and int(m.argmax()) == 3  # 12 c/image: 3rd default, 4th shifted


def test_untrained_readout_is_fixed_and_seeded():
    imgs = np.stack([random_image(32, 0.2, s) for s in range(8)])
    a = InSilicoModel(GaborEnergy(size=32)).fit_untrained(imgs, seed=3)
    b = InSilicoModel(GaborEnergy(size=32)).fit_untrained(imgs, seed=3)
    c = InSilicoModel(GaborEnergy(size=32)).fit_untrained(imgs, seed=4)
    assert np.array_equal(a.predict(imgs), b.predict(imgs))
    assert not np.allclose(a.predict(imgs), c.predict(imgs))


def test_optimizer_deadline_and_warm_start():
    import time

    model = InSilicoModel(GaborEnergy(size=32))
    rng = np.random.default_rng(0)
    model.fit(np.stack([random_image(32, 0.2, s) for s in range(10)]), rng.standard_normal(10))
    opt = GradientOptimizer(model, make_objective("maximize"), 32, steps=10_000)
    res = opt(seed=0, deadline=time.perf_counter() + 0.2)
    assert 1 <= res.steps < 10_000 and res.param is not None
    # warm start continues from the same parameters (in place)
    again = opt(seed=99, steps=5, init=res.param)
    assert again.param is res.param and again.history[0] >= res.history[0]
