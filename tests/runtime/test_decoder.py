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
    # the input buffer is reused, never reallocated; the output is bound once (IOBinding)
    # and each call returns its own values, not a view a later call overwrites
    buf = dec._x
    x2 = np.random.default_rng(1).standard_normal((16, 250)).astype(np.float32) * 20
    y2 = dec(x2)
    assert dec._x is buf and dec._binding is not None
    ref2 = ort.InferenceSession(str(tiny_onnx), providers=["CPUExecutionProvider"]).run(
        ["y"], {"x": x2[None]}
    )[0][0]
    np.testing.assert_allclose(y2, ref2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)  # y was not overwritten
    assert not np.allclose(y, y2)
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


def test_missing_default_decoder_says_how_to_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bci._decoder as mod

    monkeypatch.setattr(mod, "default_decoder_path", lambda: tmp_path / "weights" / "default.onnx")
    with pytest.raises(
        DecoderError, match=r"default decoder .*default.onnx does not exist.*--decoder"
    ):
        resolve_decoder_path("default")


def test_calibration_directory_is_accepted(tiny_onnx: Path, tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(tiny_onnx.read_bytes())
    assert DecoderONNX(tmp_path).n_channels == 16


SESSION_SCRIPT = """
import sys, threading, time
import numpy as np, pylsl
from bci.config import parse_config, SessionConfig
from bci._session import run_session

name, onnx, port, rec = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
info = pylsl.StreamInfo(name, "EEG", 16, 250.0, "float32", name)
chs = info.desc().append_child("channels")
for ch in "Fp1 Fp2 F3 F4 T7 C3 Cz C4 T8 P3 Pz P4 POz O1 Oz O2".split():
    chs.append_child("channel").append_child_value("label", ch)
out = pylsl.StreamOutlet(info)
stop = threading.Event()
def push():
    while not stop.wait(0.04):
        out.push_chunk(np.random.default_rng(0).standard_normal((10, 16)).astype(np.float32))
threading.Thread(target=push, daemon=True).start()
cfg = parse_config({"name": "notorch", "sources": [{"kind": "lsl", "name": name}],
                    "outputs": {"lsl": {"name": name + "-dec"}, "mqtt": {"port": port}},
                    "recording": {"directory": rec}, "decoder": {"warmup": 2}}, SessionConfig)
res = run_session(cfg, duration=3.0, decoder=onnx, handle_signals=False)
stop.set()
assert res.summary["counters"]["decisions"] > 5, res.summary
bad = sorted(m for m in sys.modules if m.split(".")[0] in {"torch", "braindecode", "psychopy"}
             or m.startswith(("bci.models", "bci.stimuli")))
print("heavy modules:", bad)
sys.exit(1 if bad else 0)
"""


def test_decode_path_does_not_import_torch(tiny_onnx: Path, tmp_path: Path, uid: str) -> None:
    """A whole session (LSL in, ONNX decode, MQTT + LSL out, XDF) runs without importing torch."""
    from .conftest import free_port

    script = tmp_path / "session.py"
    script.write_text(SESSION_SCRIPT)
    out = subprocess.run(
        [
            sys.executable,
            str(script),
            f"nt-{uid}",
            str(tiny_onnx),
            str(free_port()),
            str(tmp_path / "rec"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    assert "heavy modules: []" in out.stdout
