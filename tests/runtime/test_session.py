"""``bci run`` end to end in a fresh process: LSL and MQTT decisions, XDF recording, errors."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from pathlib import Path

import aiomqtt
import pylsl
import yaml

from .conftest import EEGPusher, free_port

CLI = "from bci._commands.main import run; run()"


def _bci_run(
    cfg: Path, duration: float, decoder: Path | None = None, timeout: float = 90
) -> subprocess.CompletedProcess:
    """``bci run CFG --duration D [--decoder M] --no-live`` in a fresh interpreter."""
    args = [sys.executable, "-c", CLI, "run", str(cfg), "--duration", f"{duration:g}"]
    if decoder is not None:
        args += ["--decoder", str(decoder)]
    return subprocess.run(
        [*args, "--no-live"], capture_output=True, text=True, timeout=timeout, check=False
    )


def _recorded_streams(tmp_path: Path) -> dict:
    """The streams of the session recording under ``tmp_path/rec`` (pyxdf, no dejitter)."""
    import pyxdf

    path = next((tmp_path / "rec").glob("*.xdf"))
    streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    return streams


def _config(tmp_path: Path, uid: str, port: int, sources: list[dict], **extra) -> Path:
    cfg = {
        "name": f"s{uid}",
        "sources": sources,
        "decoder": {"warmup": 2},
        "outputs": {"lsl": {"name": f"dec-{uid}"}, "mqtt": {"broker": "embedded", "port": port}},
        "recording": {"directory": str(tmp_path / "rec")},
        **extra,
    }
    path = tmp_path / "session.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


class MarkerPusher(threading.Thread):
    """Push a stimulus marker every 0.5 s on a real LSL marker outlet."""

    def __init__(self, name: str):
        super().__init__(daemon=True)
        self.outlet = pylsl.StreamOutlet(
            pylsl.StreamInfo(name, "Markers", 1, 0.0, "string", f"{name}-src")
        )
        self.stop = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.stop.wait(0.5):
            self.outlet.push_sample([f"ssvep_{[8.0, 10.0, 12.0, 15.0][i % 4]}"])
            i += 1


async def _mqtt_decisions(port: int, topic: str, into: list, deadline: float) -> None:
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:  # the broker lives in the session process: retry until it is up
        try:
            async with aiomqtt.Client("127.0.0.1", port, identifier="test-sub") as sub:
                await sub.subscribe(topic, qos=1)
                async for msg in sub.messages:
                    into.append(json.loads(msg.payload))
        except aiomqtt.MqttError:
            await asyncio.sleep(0.2)


def _lsl_decisions(name: str, into: list, stop: threading.Event) -> None:
    found = pylsl.resolve_byprop("name", name, 1, 30.0)
    if not found:
        return
    inlet = pylsl.StreamInlet(found[0], max_buflen=60)
    inlet.open_stream(timeout=10.0)
    while not stop.is_set():
        data, _ = inlet.pull_chunk(timeout=0.2)
        into.extend(data)
    inlet.close_stream()


async def test_bci_run_publishes_on_lsl_and_mqtt_and_records_xdf(
    tmp_path: Path, uid: str, tiny_onnx: Path
) -> None:
    import pyxdf

    port = free_port()
    cfg = _config(
        tmp_path,
        uid,
        port,
        [{"kind": "lsl", "name": f"eeg-{uid}"}, {"kind": "lsl", "name": f"mk-{uid}"}],
    )
    mqtt_got: list = []
    lsl_got: list = []
    stop = threading.Event()
    markers = MarkerPusher(f"mk-{uid}")
    with EEGPusher(f"eeg-{uid}"):
        markers.start()
        lsl_thread = threading.Thread(
            target=_lsl_decisions, args=(f"dec-{uid}", lsl_got, stop), daemon=True
        )
        lsl_thread.start()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CLI,
            "run",
            str(cfg),
            "--duration",
            "8",
            "--decoder",
            str(tiny_onnx),
            "--no-live",
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        loop = asyncio.get_running_loop()
        sub = asyncio.create_task(
            _mqtt_decisions(port, f"bci/s{uid}/decision", mqtt_got, loop.time() + 40)
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        sub.cancel()
        stop.set()
        markers.stop.set()
        lsl_thread.join(5)
    text = out.decode()
    assert proc.returncode == 0, text
    assert "decisions in" in text and "recording:" in text
    assert len(lsl_got) >= 20, text
    assert len(mqtt_got) >= 20, text
    d = mqtt_got[-1]
    assert (
        d["v"] == 1
        and d["session"] == f"s{uid}"
        and len(d["values"]) == 5
        and d["t_sample"] <= d["t_decoded"]
    )
    xdf = next((tmp_path / "rec").glob("*.xdf"))
    streams, _ = pyxdf.load_xdf(str(xdf), dejitter_timestamps=False)
    by_name = {s["info"]["name"][0]: s for s in streams}
    assert {
        f"eeg-{uid}",
        f"mk-{uid}",
        f"dec-{uid}",
        f"dec-{uid}-stamps",
        f"s{uid}-events",
        f"s{uid}-metrics",
    } <= set(by_name)
    assert by_name[f"eeg-{uid}"]["time_series"].shape[1] == 16
    assert len(by_name[f"eeg-{uid}"]["time_series"]) >= 250 * 6
    assert any(str(v[0]).startswith("ssvep_") for v in by_name[f"mk-{uid}"]["time_series"])
    n_dec = len(by_name[f"dec-{uid}"]["time_series"])
    assert n_dec >= 20 and len(by_name[f"dec-{uid}-stamps"]["time_series"]) == n_dec
    events = [json.loads(v[0])["event"] for v in by_name[f"s{uid}-events"]["time_series"]]
    assert events[0] == "started" and events[-1] == "stopped"


def test_bci_run_channel_mismatch_is_a_clear_error_before_start(
    tmp_path: Path, uid: str, onnx_factory
) -> None:
    model = onnx_factory(n_channels=8)
    with EEGPusher(f"eeg-{uid}"):
        cfg = _config(
            tmp_path,
            uid,
            free_port(),
            [{"kind": "lsl", "name": f"eeg-{uid}"}],
            recording={"enabled": False},
        )
        out = _bci_run(cfg, 5, model, timeout=60)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "expects 8" in out.stderr and "preprocess.channels" in out.stderr


def test_bci_run_missing_decoder_names_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"name: x\ndecoder:\n  path: {tmp_path / 'missing.onnx'}\n")
    out = _bci_run(cfg, 1, timeout=60)
    assert out.returncode == 1 and "missing.onnx does not exist" in out.stderr, out.stderr


async def test_default_config_with_simulated_participant(
    tmp_path: Path, uid: str, tiny_onnx: Path
) -> None:
    """Acceptance 1: the default config (simulated participant + its SSVEP schedule) decodes and publishes.

    Stream names and the broker port are made unique so parallel test runs do not see each
    other; everything else is ``configs/default.yaml``. The shipped default decoder is used
    when present, else the tiny test decoder of the same shape.
    """

    from bci._decoder import default_decoder_path

    root = Path(__file__).resolve().parents[2]
    cfg = yaml.safe_load((root / "configs" / "default.yaml").read_text())
    port = free_port()
    src = cfg["sources"][0]
    src.update(name=f"sim-{uid}", markers=f"mk-{uid}", stimuli=f"st-{uid}", truth=f"tr-{uid}")
    cfg["name"] = f"s{uid}"
    cfg["outputs"]["lsl"]["name"] = f"dec-{uid}"
    cfg["outputs"]["mqtt"]["port"] = port
    cfg["recording"]["directory"] = str(tmp_path / "rec")
    path = tmp_path / "default.yaml"
    path.write_text(yaml.safe_dump(cfg))
    decoder = [] if default_decoder_path().is_file() else ["--decoder", str(tiny_onnx)]
    mqtt_got: list = []
    lsl_got: list = []
    stop = threading.Event()
    lsl_thread = threading.Thread(
        target=_lsl_decisions, args=(f"dec-{uid}", lsl_got, stop), daemon=True
    )
    lsl_thread.start()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CLI,
        "run",
        str(path),
        "--duration",
        "10",
        "--no-live",
        *decoder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    loop = asyncio.get_running_loop()
    sub = asyncio.create_task(
        _mqtt_decisions(port, f"bci/s{uid}/decision", mqtt_got, loop.time() + 60)
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 90)
    sub.cancel()
    stop.set()
    lsl_thread.join(5)
    text = out.decode()
    assert proc.returncode == 0, text
    assert len(lsl_got) >= 50 and len(mqtt_got) >= 50, text
    streams = _recorded_streams(tmp_path)
    names = {s["info"]["name"][0] for s in streams}
    assert {f"sim-{uid}", f"mk-{uid}", f"dec-{uid}", f"dec-{uid}-stamps"} <= names, names


async def test_ctrl_c_stops_cleanly_and_leaves_a_loadable_recording(
    tmp_path: Path, uid: str, tiny_onnx: Path
) -> None:
    import signal

    cfg = _config(tmp_path, uid, free_port(), [{"kind": "lsl", "name": f"eeg-{uid}"}])
    got: list = []
    stop = threading.Event()
    with EEGPusher(f"eeg-{uid}"):
        reader = threading.Thread(
            target=_lsl_decisions, args=(f"dec-{uid}", got, stop), daemon=True
        )
        reader.start()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CLI,
            "run",
            str(cfg),
            "--decoder",
            str(tiny_onnx),
            "--no-live",
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        loop = asyncio.get_running_loop()
        end = loop.time() + 40
        while len(got) < 10 and loop.time() < end and proc.returncode is None:
            await asyncio.sleep(0.1)
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
        stop.set()
        reader.join(5)
    text = out.decode()
    assert len(got) >= 10, text
    assert proc.returncode == 0, text
    assert "decisions in" in text
    streams = _recorded_streams(tmp_path)
    by_name = {s["info"]["name"][0]: s for s in streams}
    assert len(by_name[f"dec-{uid}"]["time_series"]) >= 10
    events = [json.loads(v[0])["event"] for v in by_name[f"s{uid}-events"]["time_series"]]
    assert events[-1] == "stopped"


def test_replay_source_resampled_to_the_decoder(
    tmp_path: Path, uid: str, onnx_factory, generated
) -> None:
    """An EDF at 160 Hz (generated, 16 ch) replayed on LSL, resampled to a 250 Hz decoder."""

    from bci.devices import read_recording

    edf = generated["edf"]
    sig = read_recording(edf).signals[0]
    names = list(sig.spec.ch_names)
    model = onnx_factory(n_channels=len(names), n_times=250, sfreq=250.0, ch_names=names)
    cfg = _config(
        tmp_path,
        uid,
        free_port(),
        [{"kind": "replay", "path": str(edf)}],
        preprocess={"resample": 250.0},
        outputs={"lsl": {"name": f"dec-{uid}"}, "mqtt": {"enabled": False}},
    )
    out = _bci_run(cfg, 6, model)
    assert out.returncode == 0, out.stdout + out.stderr
    streams = _recorded_streams(tmp_path)
    by_type = {s["info"]["type"][0]: s for s in streams}
    assert len(by_type["Decision"]["time_series"]) >= 20  # ~10/s after the first second
    assert any(
        s["info"]["type"][0] == "Markers" or "marker" in s["info"]["name"][0].lower()
        for s in streams
    )


def test_brainflow_synthetic_board_source(tmp_path: Path, uid: str, tiny_onnx: Path) -> None:
    """A BrainFlow synthetic board (16 EEG rows @ 250 Hz) decoded live through LSL."""

    cfg = _config(
        tmp_path,
        uid,
        free_port(),
        [{"kind": "brainflow", "board": "synthetic", "name": f"bf-{uid}"}],
        outputs={"lsl": {"name": f"dec-{uid}"}, "mqtt": {"enabled": False}},
    )
    out = _bci_run(cfg, 5, tiny_onnx)
    assert out.returncode == 0, out.stdout + out.stderr
    streams = _recorded_streams(tmp_path)
    by_type = {s["info"]["type"][0]: s for s in streams}
    assert by_type["EEG"]["time_series"].shape[1] == 16
    assert len(by_type["Decision"]["time_series"]) >= 15
