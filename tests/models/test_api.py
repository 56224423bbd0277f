"""Foundation encoder, fine-tuning strategies, fit, export with parity check, strict loading."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bci import ConfigError, DecoderError, models
from bci.models._export import REQUIRED_KEYS

TINY = models.EncoderConfig(dim=32, depth=1, heads=2)


def test_channel_vocabulary_shares_1020_names_and_falls_back_to_generic_slots():
    idx = models.channel_indices(["Fc5.", "EEG Cz-REF", "TP9", "ch1", "Right AUX", "Oz"])
    assert idx[0] == models.VOCAB.index("FC5")
    assert idx[1] == models.VOCAB.index("CZ")
    assert idx[2] == models.VOCAB.index("TP9")
    assert idx[3] == models.VOCAB.index("GEN4")  # 4th channel, unknown name
    assert idx[4] == models.VOCAB.index("GEN5")
    assert idx[5] == models.VOCAB.index("OZ")


def test_default_encoder_loads_strictly_and_is_small():
    enc = models.load_encoder("default")
    assert 10_000 < enc.n_params <= 5_000_000
    x = torch.randn(2, 5, 500)
    tok = enc(x, torch.tensor(models.channel_indices(["TP9", "AF7", "AF8", "TP10", "x"])))
    assert tok.shape == (2, 5, 10, enc.config.dim)


@pytest.mark.parametrize("strategy", models.STRATEGIES)
def test_strategies_train_the_documented_parameters(strategy, sim16):
    enc = models.FoundationEncoder(TINY)
    m = models.build_classifier(enc, sim16, 250, 250, 3, strategy)
    trained = {n.split(".")[0] for n, p in m.named_parameters() if p.requires_grad}
    expected = {
        "linear_probe": {"head"},
        "readin": {"head", "readin"},
        "full": {"head", "readin", "encoder"},
        "scratch": {"head", "readin", "encoder"},
    }[strategy]
    assert trained == expected
    if strategy == "scratch":
        assert m.encoder is not enc
    probs = m(torch.randn(4, 16, 250) * 20)
    assert probs.shape == (4, 3)
    torch.testing.assert_close(probs.sum(1), torch.ones(4))


def test_build_classifier_rejects_unknown_strategy(sim16):
    with pytest.raises(ConfigError, match="linear_probe"):
        models.build_classifier(models.FoundationEncoder(TINY), sim16, 250, 250, 2, "lora")


def test_fit_learns_a_separable_task_and_stops_early(sim16):
    rng = np.random.default_rng(0)
    t = np.arange(250) / 250
    y = np.repeat([0, 1], 60)
    X = rng.standard_normal((120, 16, 250)).astype(np.float32) * 5
    X[y == 1, 12:] += 20 * np.sin(2 * np.pi * 10 * t)  # occipital 10 Hz in class 1
    X[y == 1, :4] *= 4  # and frontal variance
    m = models.build_classifier(
        None, sim16, 250, 250, 2, "scratch", classes=["a", "b"], config=TINY
    )
    m, hist = models.fit(
        m, X, np.array(["a", "b"])[y], max_epochs=25, seed=0, progress=False, patience=5
    )
    assert hist["n_val"] == 24 and hist["n_train"] == 96
    assert max(hist["val_acc"]) >= 0.9
    assert len(hist["train_loss"]) <= 25
    assert not m.training


def test_export_writes_contract_metadata_and_matches_torch(tmp_path, sim16):
    m = models.build_classifier(models.FoundationEncoder(TINY), sim16, 250, 250, 5, "full")
    path = models.export_onnx(m.eval(), tmp_path / "m.onnx", {"data_hash": "abc", "user": "u1"})
    meta = models.read_metadata(path)
    assert set(REQUIRED_KEYS) <= set(meta)
    assert meta["ch_names"] == sim16 and meta["n_times"] == 250 and meta["sfreq"] == 250.0
    assert meta["user"] == "u1"
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,), (out,) = sess.get_inputs(), sess.get_outputs()
    assert inp.name == "x" and out.name == "y"
    assert not isinstance(inp.shape[0], int)  # dynamic batch
    for b in (1, 3):
        x = np.random.default_rng(b).standard_normal((b, 16, 250)).astype(np.float32) * 30
        with torch.no_grad():
            ref = m(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(sess.run(["y"], {"x": x})[0], ref, atol=1e-4)


class _Drifting(torch.nn.Module):
    """Its output depends on Python state that the traced graph freezes: ORT != torch."""

    ch_names = ["C3", "C4"]
    n_times = 50
    sfreq = 250.0
    classes = ["a", "b"]
    normalization = "none"

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x.mean(-1) * float(self.calls)


def test_export_fails_loudly_when_onnxruntime_differs(tmp_path):
    path = tmp_path / "bad.onnx"
    with pytest.raises(DecoderError, match="parity check"):
        models.export_onnx(_Drifting(), path, {"data_hash": "x"})
    assert not path.exists()


def test_export_requires_metadata(tmp_path):
    m = _Drifting()
    del_meta = {"ch_names": ["C3", "C4"], "n_times": 50}
    with pytest.raises(DecoderError, match="bci.preprocess"):
        models.export_onnx(m, tmp_path / "m.onnx", {**del_meta, "preprocess": {"highpass": 1}})


def test_encoder_checkpoint_strict_roundtrip_and_wrong_key(tmp_path):
    enc = models.FoundationEncoder(TINY)
    p = models.save_encoder(enc, tmp_path / "enc.pt")
    back = models.load_encoder(p)
    for (k, a), (_, b) in zip(enc.state_dict().items(), back.state_dict().items(), strict=True):
        torch.testing.assert_close(a, b, msg=k)
    ck = torch.load(p, weights_only=True)
    ck["state_dict"]["blocks.0.qkv.wieght"] = ck["state_dict"].pop("blocks.0.qkv.weight")
    torch.save(ck, tmp_path / "bad.pt")
    with pytest.raises(
        DecoderError,
        match=r"missing keys: blocks\.0\.qkv\.weight.*unexpected keys: blocks\.0\.qkv\.wieght",
    ):
        models.load_encoder(tmp_path / "bad.pt")


def test_default_decoder_is_the_contract_model_and_decodes_simulated_ssvep():
    """The shipped default.onnx: metadata, parity with its checkpoint, and real decoding."""
    import onnxruntime as ort

    from bci.config import SimulatedSourceConfig
    from bci.devices.simulated import simulate
    from bci.models._default import OFFSETS, causal_filter

    path = models.WEIGHTS_DIR / "default.onnx"
    meta = models.read_metadata(path)
    assert meta["sfreq"] == 250.0 and meta["n_times"] == 250 and len(meta["ch_names"]) == 16
    assert meta["classes"] == ["8.0", "10.0", "12.0", "15.0", "rest"]
    assert meta["preprocess"] == {"bandpass": [3.0, 40.0], "notch": 50.0}
    torch_model, _ = models.load_classifier(models.WEIGHTS_DIR / "default.pt")
    rec, _ = simulate(SimulatedSourceConfig(seed=11), duration=40.0)  # unseen participant
    sig = rec.signals[0]
    data = causal_filter(sig.data, 250.0)
    X, y = [], []
    for mk in rec.markers:
        if mk.value.startswith("ssvep_") and mk.timestamp > 5:
            a = int((mk.timestamp + OFFSETS[2]) * 250)
            if a + 250 <= data.shape[1]:
                X.append(data[:, a : a + 250])
                y.append(meta["classes"].index(f"{float(mk.value[6:]):.1f}"))
    X = np.stack(X).astype(np.float32)
    probs = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        ["y"], {"x": X}
    )[0]
    with torch.no_grad():
        np.testing.assert_allclose(probs, torch_model(torch.from_numpy(X)).numpy(), atol=1e-4)
    acc = float((probs.argmax(1) == np.array(y)).mean())
    assert acc >= 0.7, acc  # chance is 0.25 among the four frequencies


def test_runtime_decoder_runs_the_default_model_like_torch():
    """bci._decoder.DecoderONNX (the runtime's wrapper) on default.onnx equals the checkpoint."""
    from bci._decoder import DecoderONNX

    dec = DecoderONNX("default", provider="cpu", threads=1)
    assert dec.provider == "CPUExecutionProvider"
    dec.warmup(3)
    torch_model, _ = models.load_classifier(models.WEIGHTS_DIR / "default.pt")
    x = (np.random.default_rng(3).standard_normal((16, 250)) * 15).astype(np.float32)
    with torch.no_grad():
        ref = torch_model(torch.from_numpy(x)[None])[0].numpy()
    np.testing.assert_allclose(dec(x), ref, atol=1e-4)


def test_cli_export_of_the_default_checkpoint(tmp_path):
    from typer.testing import CliRunner

    from bci._commands.main import app

    out = tmp_path / "d.onnx"
    res = CliRunner().invoke(
        app, ["export", str(models.WEIGHTS_DIR / "default.pt"), "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert models.read_metadata(out)["model_id"] == "bci-default-ssvep-v1"
    res = CliRunner().invoke(app, ["export", str(tmp_path / "missing.pt"), "-o", str(out)])
    assert res.exit_code == 1 and "missing.pt" in res.output
