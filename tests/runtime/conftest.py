"""Fixtures of the runtime tests: tiny ONNX decoders exported from torch, a real mosquitto."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bci.devices.simulated import DEFAULT_EEG_MONTAGE

SIM_MONTAGE = list(DEFAULT_EEG_MONTAGE)  # the simulated participant's default 16 channels
SIM_CLASSES = ["ssvep_8.0", "ssvep_10.0", "ssvep_12.0", "ssvep_15.0", "rest"]


def export_tiny_onnx(
    path: Path,
    n_channels: int = 16,
    n_times: int = 250,
    sfreq: float = 250.0,
    ch_names: list[str] | None = None,
    classes: list[str] | None = None,
    seed: int = 0,
) -> Path:
    """Export a small torch network (conv -> pool -> linear -> softmax) under the decoder contract."""
    import onnx
    import torch

    classes = classes or SIM_CLASSES
    ch_names = ch_names or (
        SIM_MONTAGE if n_channels == 16 else [f"ch{i}" for i in range(n_channels)]
    )
    gen = torch.Generator().manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Conv1d(n_channels, 8, 25, stride=5),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool1d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(8, len(classes)),
        torch.nn.Softmax(-1),
    )
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
    net.eval()
    example = torch.zeros(2, n_channels, n_times)
    with warnings.catch_warnings():  # the legacy exporter is deprecated but 40x faster here
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            net,
            (example,),
            str(path),
            input_names=["x"],
            output_names=["y"],
            dynamo=False,
            dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
        )
    model = onnx.load(str(path))
    meta = {
        "sfreq": sfreq,
        "ch_names": ch_names,
        "n_times": n_times,
        "classes": classes,
        "normalization": None,
        "preprocess": {"bandpass": [1.0, 40.0], "notch": 50.0},
        "version": "test",
        "data_hash": "none",
        "model_id": f"tiny-{n_channels}x{n_times}",
    }
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = f"bci.{key}", json.dumps(value)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 16-channel, 250 Hz, 1 s decoder with the simulated participant's montage and classes."""
    return export_tiny_onnx(tmp_path_factory.mktemp("onnx") / "tiny.onnx")


@pytest.fixture(scope="session")
def onnx_factory(tmp_path_factory: pytest.TempPathFactory):
    """Build tiny decoders of any shape: ``onnx_factory(n_channels=..., n_times=..., sfreq=...)``."""
    base = tmp_path_factory.mktemp("onnx-any")
    counter = iter(range(10**6))

    def make(**kwargs) -> Path:
        return export_tiny_onnx(base / f"m{next(counter)}.onnx", **kwargs)

    return make


def free_port() -> int:
    """An unused TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mosquitto:
    """A real mosquitto broker on loopback that a test can kill and restart."""

    port: int
    conf: Path
    proc: subprocess.Popen | None = None

    def start(self, timeout: float = 5.0) -> Mosquitto:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen(
            [exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"mosquitto exited: {self.proc.stderr.read().decode()}"
                    ) from None
                time.sleep(0.02)
        raise TimeoutError(f"mosquitto did not listen on port {self.port} within {timeout} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A mosquitto 2 broker on an ephemeral loopback port with TCP_NODELAY, stopped after the test."""
    if not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()):
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
        "persistence false\nlog_dest stderr\nlog_type error\n"
    )
    broker = Mosquitto(port=port, conf=conf).start()
    yield broker
    broker.stop()


class EEGPusher:
    """A real pylsl outlet pushing a 10 Hz sine plus noise on an absolute schedule (a thread).

    ``nan_at``: (start_s, n_samples) of a NaN burst written into every channel;
    ``nan_channel``: a channel that is NaN from start to end.
    """

    def __init__(
        self,
        name: str,
        n_channels: int = 16,
        sfreq: float = 250.0,
        chunk: int = 10,
        ch_names: list[str] | None = None,
        nan_at: tuple[float, int] | None = None,
        nan_channel: int | None = None,
    ):
        import threading

        import pylsl

        self.sfreq, self.chunk, self.nan_at = sfreq, chunk, nan_at
        self.nan_channel = nan_channel
        self.n_channels = n_channels
        names = ch_names or (
            SIM_MONTAGE if n_channels == 16 else [f"ch{i}" for i in range(n_channels)]
        )
        info = pylsl.StreamInfo(name, "EEG", n_channels, sfreq, "float32", f"{name}-src")
        chs = info.desc().append_child("channels")
        for ch in names:
            c = chs.append_child("channel")
            c.append_child_value("label", ch)
            c.append_child_value("type", "eeg")
            c.append_child_value("unit", "microvolts")
        self.outlet = pylsl.StreamOutlet(info, chunk)
        self._stop = threading.Event()
        self.pushed = 0
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"push-{name}")

    def __enter__(self) -> EEGPusher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        import numpy as np
        import pylsl

        rng = np.random.default_rng(0)
        t0 = pylsl.local_clock()
        period = self.chunk / self.sfreq
        k = 0
        while not self._stop.is_set():
            due = t0 + (k + 1) * period
            while (now := pylsl.local_clock()) < due:
                time.sleep(min(0.002, due - now))
            idx = np.arange(k * self.chunk, (k + 1) * self.chunk)
            x = 20 * np.sin(2 * np.pi * 10 * idx / self.sfreq)[None] + rng.standard_normal(
                (self.n_channels, self.chunk)
            )
            x = x.astype(np.float32)
            if self.nan_at is not None:
                s0 = int(self.nan_at[0] * self.sfreq)
                bad = (idx >= s0) & (idx < s0 + self.nan_at[1])
                x[:, bad] = np.nan
            if self.nan_channel is not None:
                x[self.nan_channel] = np.nan
            ts = due - (self.chunk - 1 - np.arange(self.chunk)) / self.sfreq
            self.outlet.push_chunk(np.ascontiguousarray(x.T), ts.tolist())
            self.pushed += self.chunk
            k += 1


# ---------------------------------------------------------------- simulated recordings
def write_simulated_xdf(
    path: Path,
    duration: float,
    paradigm: str = "ssvep",
    seed: int = 0,
    schedule_seed: int | None = None,
    snr: float = 1.0,
) -> Path:
    """Simulate the participant offline and write signal + markers to XDF, as a session would.

    ``schedule_seed`` draws another trial order for the same participant (a second session).
    """
    import numpy as np

    from bci import StreamSpec
    from bci._recorder import RecorderXDF
    from bci.config import SimulatedSourceConfig
    from bci.devices.simulated import simulate
    from bci.devices.simulated._protocol import paradigm_schedule

    cfg = SimulatedSourceConfig(paradigm=paradigm, seed=seed, snr=snr)
    stimuli = None
    if schedule_seed is not None:
        stimuli = paradigm_schedule(paradigm, duration, seed=schedule_seed)
    rec, _ = simulate(cfg, duration, stimuli=stimuli)
    rx = RecorderXDF(path)
    try:
        sig = rec.signals[0]
        rx.write(rx.add_stream(sig.spec), sig.data, sig.timestamps)
        spec = StreamSpec(
            "bci-markers", "Markers", "bci-markers-sim", 0.0, ("marker",), dtype="string"
        )
        mid = rx.add_stream(spec)
        rx.write(mid, [m.value for m in rec.markers], np.array([m.timestamp for m in rec.markers]))
    finally:
        rx.close()
    return path


@pytest.fixture(scope="session")
def p300_decoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An event-locked P300 decoder calibrated (``bci calibrate``, features) on 3 min of the
    simulated participant's oddball: its metadata carries the onset epochs."""
    import yaml

    from bci.config import parse_config
    from bci.config._calibration import CalibrationConfig
    from bci.models.calibration import calibrate

    base = tmp_path_factory.mktemp("p300")
    train = write_simulated_xdf(base / "train.xdf", 180.0, "p300", seed=0)
    root = Path(__file__).resolve().parents[2]
    cfg = parse_config(
        yaml.safe_load((root / "configs" / "calibrate_sim-p300.yaml").read_text()),
        CalibrationConfig,
    )
    calibrate([train], cfg, base / "cal", progress=False, learning=False, shortcut=False)
    return base / "cal"


@dataclass
class SecureBroker:
    """A mosquitto with a password listener and a TLS listener, and the files a client needs."""

    password_port: int
    tls_port: int
    username: str
    password: str
    ca_file: Path
    other_ca_file: Path
    broker: Mosquitto


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture
def secure_mosquitto(tmp_path: Path) -> Iterator[SecureBroker]:
    """mosquitto 2 with ``password_file`` on one port and TLS (a throwaway CA) on another."""
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(exe).exists() or not shutil.which("openssl"):
        pytest.skip("mosquitto and openssl are needed (apt-get install mosquitto openssl)")
    d = tmp_path / "pki"
    d.mkdir()
    days = "2"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "ca.key"),
             "-out", str(d / "ca.crt"), "-days", days, "-subj", "/CN=bci-test-ca")  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "srv.key"),
             "-out", str(d / "srv.csr"), "-subj", "/CN=localhost")  # fmt: skip
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("x509", "-req", "-in", str(d / "srv.csr"), "-CA", str(d / "ca.crt"),
             "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-out", str(d / "srv.crt"),
             "-days", days, "-extfile", str(d / "ext.cnf"))  # fmt: skip
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "other.key"),
             "-out", str(d / "other.crt"), "-days", days, "-subj", "/CN=another-ca")  # fmt: skip
    pwfile = d / "passwd"
    user, password = "bci-user", "correct horse"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pwfile), user, password], check=True)
    p_port, t_port = free_port(), free_port()
    conf = tmp_path / "secure.conf"
    # as root, mosquitto drops to user "mosquitto", who cannot read pytest's tmp_path
    user_line = "user root\n" if os.geteuid() == 0 else ""
    conf.write_text(
        f"{user_line}per_listener_settings true\n"
        f"listener {p_port} 127.0.0.1\nallow_anonymous false\npassword_file {pwfile}\n"
        f"listener {t_port} 127.0.0.1\nallow_anonymous true\n"
        f"cafile {d / 'ca.crt'}\ncertfile {d / 'srv.crt'}\nkeyfile {d / 'srv.key'}\n"
        "persistence false\nlog_dest stderr\nlog_type error\n"
    )
    broker = Mosquitto(port=t_port, conf=conf).start()
    yield SecureBroker(p_port, t_port, user, password, d / "ca.crt", d / "other.crt", broker)
    broker.stop()
