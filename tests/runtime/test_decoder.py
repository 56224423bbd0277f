"""DecoderONNX: loading, metadata, providers, warm-up, buffer reuse and clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bci import DecoderError
from bci._decoder import DecoderONNX, resolve_decoder_path


def test_decoder_runs_and_matches_onnxruntime(tiny_onnx: Path) -> None:
    import onnxruntime as ort

    dec = DecoderONNX(tiny_onnx, provider="cpu", threads=1)
    assert dec.provider == "CPUExecutionProvider"
    assert (dec.n_channels, dec.n_times) == (16, 250)
    assert dec.metadata["sfreq"] == 250.0
    assert dec.metadata["classes"][-1] == "rest"
    assert dec.metadata["preprocess"] == {"bandpass": [1.0, 40.0], "notch": 50.0}
    assert dec.model_id == "tiny-16x250"
    x = np.random.default_rng(0).standard_normal((16, 250)).astype(np.float32) * 20
    y = dec(x)
    assert y.shape == (5,)
    assert np.isclose(y.sum(), 1.0, atol=1e-5)
    ref = ort.InferenceSession(str(tiny_onnx), providers=["CPUExecutionProvider"]).run(
        ["y"], {"x": x[None]}
    )[0][0]
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)
    # the input buffer is reused, never reallocated
    buf = dec._x
    dec(x * 2)
    assert dec._x is buf
    assert dec.warmup(3) > 0


def test_auto_provider_is_logged(tiny_onnx: Path, caplog: pytest.LogCaptureFixture) -> None:
    import onnxruntime as ort

    with caplog.at_level("INFO", logger="bci._decoder"):
        dec = DecoderONNX(tiny_onnx, provider="auto")
    expected = (
        "CUDAExecutionProvider"
        if "CUDAExecutionProvider" in ort.get_available_providers()
        else "CPUExecutionProvider"
    )
    assert dec.provider == expected
    assert expected in caplog.text


def test_shape_and_channel_mismatch_are_clear_errors(tiny_onnx: Path) -> None:
    dec = DecoderONNX(tiny_onnx)
    with pytest.raises(DecoderError, match=r"window shape \(8, 250\).*n_channels=16"):
        dec(np.zeros((8, 250), np.float32))
    with pytest.raises(DecoderError, match="expects 16"):
        dec.check_input([f"c{i}" for i in range(8)], 250.0)
    with pytest.raises(DecoderError, match="resample: 250"):
        dec.check_input(dec.ch_names, 500.0)
    with pytest.raises(DecoderError, match="preprocess.channels"):
        dec.check_input(list(reversed(dec.ch_names)), 250.0)
    dec.check_input(dec.ch_names, 250.0)


def test_missing_files_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(DecoderError, match="nope.onnx does not exist"):
        DecoderONNX(tmp_path / "nope.onnx")
    with pytest.raises(DecoderError, match="holds no model.onnx"):
        resolve_decoder_path(tmp_path)
    with pytest.raises(DecoderError, match="provider="):
        DecoderONNX(tmp_path / "x.onnx", provider="tpu")


def test_calibration_directory_is_accepted(tiny_onnx: Path, tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(tiny_onnx.read_bytes())
    assert DecoderONNX(tmp_path).n_channels == 16


def test_decode_path_does_not_import_torch(tiny_onnx: Path) -> None:
    code = (
        "import sys, numpy as np\n"
        "from bci._decoder import DecoderONNX\n"
        "import bci._runtime, bci._session, bci._mqtt\n"
        f"d = DecoderONNX({str(tiny_onnx)!r}); d.warmup(2); d(np.zeros((16, 250), np.float32))\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'braindecode', 'models', 'stimuli', 'psychopy'})\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
