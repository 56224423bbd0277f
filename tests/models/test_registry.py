"""braindecode encoder registry: completeness, build -> forward -> export -> ORT == torch, strict weights."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from bci import ConfigError, DecoderError, models
from bci.models._registry import REGISTRY, build_braindecode, load_weights, save_weights

# One case per registered architecture: window length in samples at 250 Hz (CBraMod's
# spectral patch embedding needs multiples of its 200-sample patch).
TEST_CASES = {"labram": 500, "cbramod": 400, "eegpt": 500, "eegnet": 500}


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        yield


def test_completeness_every_registered_encoder_has_a_case():
    assert set(TEST_CASES) == set(REGISTRY), set(REGISTRY) ^ set(TEST_CASES)


@pytest.mark.parametrize(
    "name",
    # CBraMod's export takes ~40 s on 2 busy cores: slow-marked, still run by the full suite.
    [pytest.param(n, marks=pytest.mark.slow) if n == "cbramod" else n for n in sorted(TEST_CASES)],
)
def test_build_forward_export_matches_torch(name, sim16, tmp_path):
    n_times = TEST_CASES[name]
    m = build_braindecode(name, sim16, 250.0, n_times, 5, classes=list("abcde")).eval()
    x = torch.randn(3, 16, n_times) * 20
    with torch.no_grad():
        y = m(x)
    assert y.shape == (3, 5)
    torch.testing.assert_close(y.sum(1), torch.ones(3))
    # export_onnx runs the ORT-vs-torch parity check at batch 1 and 8 and raises otherwise
    path = models.export_onnx(m, tmp_path / f"{name}.onnx", {"data_hash": "test"})
    meta = models.read_metadata(path)
    assert meta["classes"] == list("abcde") and meta["n_times"] == n_times


def test_unknown_encoder_is_a_config_error(sim16):
    with pytest.raises(ConfigError, match="labram"):
        build_braindecode("reve", sim16, 250.0, 500, 2)


@pytest.mark.parametrize("name", ["labram", "cbramod"])
def test_local_weights_load_strictly_offline(name, sim16, tmp_path):
    n_times = TEST_CASES[name]
    torch.manual_seed(0)
    src = build_braindecode(name, sim16, 250.0, n_times, 4)
    folder = tmp_path / "weights"
    save_weights(src.model, folder)
    torch.manual_seed(1)
    dst = build_braindecode(name, sim16, 250.0, n_times, 4, weights=folder)
    for (k, a), (_, b) in zip(
        src.model.state_dict().items(), dst.model.state_dict().items(), strict=True
    ):
        torch.testing.assert_close(a, b, msg=k)
    # a folder whose file has one renamed key fails, naming both keys
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    key = sorted(state)[0]
    state[key + "_renamed"] = state.pop(key)
    bad = tmp_path / "bad"
    bad.mkdir()
    torch.save(state, bad / "pytorch_model.bin")
    fresh = build_braindecode(name, sim16, 250.0, n_times, 4)
    with pytest.raises(DecoderError, match="missing keys: .*" + key.replace(".", r"\.")) as err:
        load_weights(fresh.model, bad)
    assert f"{key}_renamed" in str(err.value)


def test_weights_folder_without_weights_is_an_error(tmp_path):
    with pytest.raises(DecoderError, match="pytorch_model.bin"):
        load_weights(torch.nn.Linear(2, 2), tmp_path)


def test_braindecode_checkpoint_roundtrip_through_bci_export(sim16, tmp_path):
    from typer.testing import CliRunner

    from bci._commands.main import app

    m = build_braindecode("eegnet", sim16, 250.0, 500, 3, classes=["l", "r", "rest"])
    ck = models.save_classifier(m, tmp_path / "eegnet.pt", {"data_hash": "d1"})
    out = tmp_path / "eegnet.onnx"
    res = CliRunner().invoke(app, ["export", str(ck), "-o", str(out)])
    assert res.exit_code == 0, res.output
    meta = models.read_metadata(out)
    assert meta["classes"] == ["l", "r", "rest"] and meta["data_hash"] == "d1"
    x = np.random.default_rng(0).standard_normal((2, 16, 500)).astype(np.float32)
    import onnxruntime as ort

    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(["y"], {"x": x})[0]
    with torch.no_grad():
        np.testing.assert_allclose(got, m.eval()(torch.from_numpy(x)).numpy(), atol=1e-4)
