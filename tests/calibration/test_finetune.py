"""The calibration fine-tuning recipe: convex linear probe, then LP-FT with discriminative rates."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bci import models

TINY = models.EncoderConfig(dim=32, depth=1, heads=2)
CH = ["TP9", "AF7", "AF8", "TP10"]


def _task(seed: int = 0, n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """Class 1 carries a 10 Hz rhythm on two channels; class 0 is noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(250) / 250
    y = np.repeat([0, 1], n // 2)
    X = rng.standard_normal((n, 4, 250)).astype(np.float32) * 5
    X[y == 1, 2:] += (15 * np.sin(2 * np.pi * 10 * t)).astype(np.float32)
    return X, y


def _clf(strategy: str, seed: int = 0) -> models.EncoderClassifier:
    torch.manual_seed(seed)
    return models.build_classifier(models.FoundationEncoder(TINY), CH, 250, 250, 2, strategy)


def test_logistic_probe_trains_only_the_head_and_separates() -> None:
    X, y = _task()
    m = _clf("linear_probe")
    enc0 = {k: v.clone() for k, v in m.encoder.state_dict().items()}
    m, hist = models.fit(m, X, y, probe_solver="logistic", progress=False, seed=0)
    assert hist["probe_C"] in models._fit.PROBE_CS
    assert all(torch.equal(enc0[k], v) for k, v in m.encoder.state_dict().items())
    Xt, yt = _task(seed=1)
    with torch.no_grad():
        acc = float((m(torch.from_numpy(Xt)).argmax(1).numpy() == yt).mean())
    assert acc >= 0.9


def test_lp_ft_never_ends_worse_than_its_probe_on_validation() -> None:
    X, y = _task()
    m, hist = models.fit(
        _clf("full"),
        X,
        y,
        strategy="full",
        max_epochs=3,
        patience=1,
        probe_epochs=1,
        probe_solver="logistic",
        encoder_lr_scale=0.1,
        progress=False,
        seed=0,
    )
    best = min(hist["val_loss"]) if hist["best_epoch"] >= 0 else hist["probe_val_loss"]
    assert best <= hist["probe_val_loss"] + 1e-9
    assert hist["best_epoch"] == -1 or hist["val_loss"][hist["best_epoch"]] == best
    assert not m.training


def test_encoder_learning_rate_scale_slows_the_encoder() -> None:
    """With a 0 encoder rate only the head moves; with 1 the encoder moves too."""
    X, y = _task()
    moved = []
    for scale in (0.0, 1.0):
        m = _clf("full")
        w0 = m.encoder.patch_embed.weight.detach().clone()
        m, _ = models.fit(
            m,
            X,
            y,
            strategy="full",
            max_epochs=1,
            encoder_lr_scale=scale,
            weight_decay=0.0,
            val_fraction=0.0,
            progress=False,
            seed=0,
        )
        moved.append(float((m.encoder.patch_embed.weight.detach() - w0).abs().max()))
    assert moved[0] == 0.0 and moved[1] > 0.0


@pytest.mark.parametrize("strategy", ["linear_probe", "full", "scratch"])
def test_foundation_strategy_recipe(strategy: str) -> None:
    """Every strategy probes first; only the initialisation and the encoder rate differ."""
    from bci.models.calibration._strategies import ENCODER_LR_SCALE, POOLING, FoundationStrategy

    X, y = _task(n=60)
    est = FoundationStrategy(strategy, CH, 250.0, ["a", "b"], epochs=1, patience=1)
    if strategy != "scratch":
        from bci.models.calibration._strategies import pretrained_encoder

        if pretrained_encoder() is None:
            pytest.skip("no pretrained encoder installed")
    est.fit(X, y)
    assert est.encoder_lr_scale == ENCODER_LR_SCALE[strategy]
    assert est.model_.pooling == POOLING == "layers"
    assert "probe_C" in est.history_
    p = est.predict_proba(X[:5])
    assert p.shape == (5, 2) and np.allclose(p.sum(1), 1, atol=1e-5)


def test_fine_tuning_stage_subsamples_but_the_probe_sees_every_window() -> None:
    X, y = _task()
    _, hist = models.fit(
        _clf("full"),
        X,
        y,
        strategy="full",
        max_epochs=1,
        probe_epochs=1,
        probe_solver="logistic",
        max_train_windows=40,
        progress=False,
        seed=0,
    )
    assert hist["n_train"] == 96 and hist["n_finetune"] == 40 and hist["n_val"] == 24


def test_layers_head_pools_every_block_and_the_channel_amplitude() -> None:
    """``pooling="layers"``: every block's pooled tokens, then each channel's log amplitude."""
    enc = models.FoundationEncoder(models.EncoderConfig(dim=32, depth=2, heads=2)).eval()
    last = models.build_classifier(enc, CH, 250, 250, 2, "full").eval()
    layers = models.build_classifier(enc, CH, 250, 250, 2, "full", pooling="layers").eval()
    x = torch.from_numpy(_task(n=4)[0])
    with torch.no_grad():
        f_last, f = last.features(x), layers.features(x)
        assert f.shape == (4, 2 * 32 + len(CH))
        torch.testing.assert_close(f[:, 32:64], f_last)  # the last block, as "last" pools it
        torch.testing.assert_close(f[:, 64:], 0.5 * torch.log(x.var(-1, correction=0) + 1.0))
        # normalisation removes a gain; only the layers head still sees it
        torch.testing.assert_close(last(10 * x), last(x), atol=1e-2, rtol=0)
        assert (layers.features(10 * x)[:, 64:] - f[:, 64:]).min() > 2.0


def test_layers_head_exports_and_roundtrips(tmp_path) -> None:
    import onnxruntime as ort

    m = models.build_classifier(
        models.FoundationEncoder(TINY), CH, 250, 250, 2, "full", pooling="layers"
    ).eval()
    path = models.export_onnx(m, tmp_path / "m.onnx", {"data_hash": "t"})  # checks ORT == torch
    x = _task(n=2)[0]
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        ref = m(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(sess.run(["y"], {"x": x})[0], ref, atol=1e-4)
    back, _ = models.load_classifier(models.save_classifier(m, tmp_path / "m.pt"))
    assert back.pooling == "layers"
    with torch.no_grad():
        torch.testing.assert_close(back(torch.from_numpy(x)), torch.from_numpy(ref))


def test_unknown_pooling_is_a_config_error() -> None:
    from bci._errors import ConfigError

    with pytest.raises(ConfigError, match="pooling"):
        models.build_classifier(models.FoundationEncoder(TINY), CH, 250, 250, 2, pooling="max")


def _trial_ids(n: int = 120, per_trial: int = 4) -> np.ndarray:
    """Trial id of each window of :func:`_task` (``per_trial`` overlapping windows each)."""
    return np.arange(n) // per_trial + 100


def test_inner_splits_never_put_one_trial_on_both_sides(monkeypatch) -> None:
    """The validation split and every fold of the probe's C selection keep trials whole."""
    from bci.models import _fit

    X, y = _task()
    groups = _trial_ids()
    seen: dict[str, list] = {"split": [], "folds": []}
    split, inner = _fit._split, _fit._inner_folds

    def spy_split(labels, val_fraction, rng, g=None):
        out = split(labels, val_fraction, rng, g)
        seen["split"].append(out)
        return out

    def spy_folds(labels, n_folds, seed, g):
        out = inner(labels, n_folds, seed, g)
        seen["folds"].append((g, out))
        return out

    monkeypatch.setattr(_fit, "_split", spy_split)
    monkeypatch.setattr(_fit, "_inner_folds", spy_folds)
    _, hist = models.fit(
        _clf("linear_probe"), X, y, probe_solver="logistic", progress=False, groups=groups
    )
    (tr, va), ((g_tr, folds),) = seen["split"][0], seen["folds"]
    assert not set(groups[tr]) & set(groups[va])
    assert set(y[va]) == {0, 1} and hist["n_val"] % 4 == 0
    np.testing.assert_array_equal(g_tr, groups[tr])
    assert len(folds) == _fit.PROBE_FOLDS
    for a, b in folds:
        assert not set(g_tr[a]) & set(g_tr[b])
        assert set(y[tr][b]) == {0, 1}
    assert np.array_equal(np.sort(np.concatenate([b for _, b in folds])), np.arange(len(tr)))


def test_groups_of_single_windows_keep_the_ungrouped_splits() -> None:
    """One window per trial (or ``groups=None``): the same splits as before grouping existed."""
    from bci.models import _fit

    y = np.repeat([0, 1, 2], 20)
    ids = np.random.default_rng(1).permutation(len(y)) * 7
    a = _fit._split(y, 0.2, np.random.default_rng(0))
    b = _fit._split(y, 0.2, np.random.default_rng(0), ids)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    for (u1, v1), (u2, v2) in zip(
        _fit._inner_folds(y, 5, 3, None), _fit._inner_folds(y, 5, 3, ids), strict=True
    ):
        np.testing.assert_array_equal(u1, u2)
        np.testing.assert_array_equal(v1, v2)
    # with grouped windows the folds count trials, not windows
    assert _fit._min_class_count(y, np.arange(len(y)) // 5) == 4


def test_groups_must_match_the_windows() -> None:
    from bci._errors import ConfigError

    X, y = _task(n=20)
    with pytest.raises(ConfigError, match="groups"):
        models.fit(_clf("linear_probe"), X, y, progress=False, groups=np.arange(19))


def test_calibration_passes_trial_ids_to_estimators_that_take_them() -> None:
    """Cross-validation, learning curve and the final fit hand ``groups`` down when accepted."""
    from bci.models.calibration._evaluate import fit_estimator

    class Grouped:
        def fit(self, X, y, groups=None):
            self.groups = groups
            return self

    class Plain:
        def fit(self, X, y):
            self.fitted = True
            return self

    g = np.arange(6) // 2
    assert fit_estimator(Grouped(), np.zeros((6, 1, 2)), np.zeros(6), g).groups is g
    assert fit_estimator(Plain(), np.zeros((6, 1, 2)), np.zeros(6), g).fitted
