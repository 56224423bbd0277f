"""Replay -> LSL -> record -> XDF round trips, pacing, faults and CLI commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pylsl
import pytest
import pyxdf
from streams_helpers import CounterPump, wait_until

from bci import StreamSpec
from bci.devices import OutletLSL, RecordLSL, ReplayLSL, read_recording

ROOT = Path(__file__).resolve().parents[2]
BCI = str(ROOT / ".venv/bin/bci") if (ROOT / ".venv/bin/bci").exists() else "bci"
#: Every generated recording (one per format and layout, see tests/recordings.py).
GENERATED = ["muse-ssvep", "myo", "edf", "bdf", "vhdr", "fif", "xdf-emg", "xdf-multi"]


def roundtrip(path: Path, out: Path, uid: str, speed: float = 10.0) -> None:
    """Replay ``path`` at ``speed``, record it, and compare the two files."""
    player = ReplayLSL(path, speed=speed, source_prefix=f"{uid}-").open()
    try:
        rec = RecordLSL(
            out, streams=[f"starts-with(source_id,'{uid}-')"], resolve_timeout=1.0
        ).start()
        try:
            assert len(rec.stats) == len(player.tracks)
            player.start(wait_consumers=10.0, lead=0.3)
            assert player.wait(timeout=player.duration / speed + 30), "replay did not end"
            last = max(
                float(player.schedule(t.timestamps[-1])) for t in player.tracks if t.timestamps.size
            )
            wait_until(lambda: pylsl.local_clock() > last + 0.5, 5.0)
        finally:
            rec.stop()
    finally:
        player.stop()
    assert not rec.errors
    orig = read_recording(path) if not path.suffix == ".txt" else read_recording(path, sfreq=200.0)
    got = read_recording(out)
    by = {(s.spec.name, s.spec.stype): s for s in got.signals}
    for sig in orig.signals:
        r = by[(sig.spec.name, sig.spec.stype)]
        assert r.spec.ch_names == sig.spec.ch_names
        assert r.spec.sfreq == sig.spec.sfreq
        assert r.spec.units == sig.spec.units
        assert r.data.shape == sig.data.shape, sig.spec.name
        np.testing.assert_array_equal(r.data, sig.data.astype(np.float32))
        if sig.timestamps.size:
            np.testing.assert_allclose(
                r.timestamps, player.schedule(sig.timestamps), atol=1e-3, rtol=0
            )
    for name in {m.stream for m in orig.markers}:
        want = [m for m in orig.markers if m.stream == name]
        have = [m for m in got.markers if m.stream == name]
        assert [m.value for m in have] == [m.value for m in want], name
        sched = player.schedule(np.array([m.timestamp for m in want]))
        err = np.abs(np.array([m.timestamp for m in have]) - sched)
        assert err.max() < 1e-3, (
            f"{name}: marker timestamps off schedule by {err.max() * 1e3:.3f} ms"
        )
    assert not [m for m in got.markers if m.stream == "bci-record-events" and '"lost"' in m.value]


@pytest.mark.parametrize("key", GENERATED)
def test_roundtrip_generated_10x(generated, tmp_path, uid, key):
    roundtrip(generated[key], tmp_path / "rec.xdf", uid)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_roundtrip_full_shared_data(shared_data, tmp_path, uid):
    files = sorted(
        p
        for p in shared_data.rglob("*")
        if p.suffix in (".xdf", ".edf", ".csv") or (p.suffix == ".txt" and "right_hand" in str(p))
    )
    # one file per folder by default (~1-2 min); BCI_FULL_ROUNDTRIP=all replays all ~106 files (~20 min)
    if os.environ.get("BCI_FULL_ROUNDTRIP") != "all":
        seen, picked = set(), []
        for p in files:
            key = p.relative_to(shared_data).parts[0]
            if key not in seen:
                seen.add(key)
                picked.append(p)
        files = picked
    for k, path in enumerate(files):
        roundtrip(path, tmp_path / f"rec{k}.xdf", f"{uid}-{k}", speed=10.0)
        (tmp_path / f"rec{k}.xdf").unlink()


def test_replay_pacing_drift(tmp_path, uid):
    """A 60 s 500 Hz recording at 30x: wake-ups stay on the absolute schedule."""
    from bci._recorder import RecorderXDF

    path = tmp_path / "long.xdf"
    with RecorderXDF(path) as rec:
        sid = rec.add_stream(StreamSpec("drift", "EEG", "d", 500.0, ("a", "b")))
        n = 30000
        rec.write(
            sid,
            np.vstack([np.arange(n), np.zeros(n)]).astype(np.float32),
            1000 + np.arange(n) / 500,
        )
    player = ReplayLSL(path, speed=30.0, source_prefix=f"{uid}-").start(lead=0.1)
    assert player.wait(10.0)
    player.stop()
    late = np.array(player.stats.lateness)
    assert player.stats.samples == 30000
    k = len(late) // 10
    drift = np.median(late[-k:]) - np.median(late[:k])
    assert abs(drift) < 1e-3, f"drift {drift * 1e3:.3f} ms"
    assert np.median(late) < 1e-3


def test_record_survives_outlet_gap(tmp_path, counter_spec):
    """The source vanishes for 3 s: the recording keeps going, logs the gap, records what follows."""
    outlet = OutletLSL(counter_spec)
    pump = CounterPump(outlet, 250.0, 4)
    rec = RecordLSL(
        tmp_path / "gap.xdf", streams=[counter_spec.name], resolve_timeout=1.0, silence_timeout=0.5
    ).start()
    try:
        wait_until(lambda: pump.step() >= 0 and rec.stats[0].samples > 250, 10.0)
        del outlet, pump.outlet
        t_gone = time.monotonic()
        wait_until(lambda: time.monotonic() - t_gone > 3.0, 4.0)
        pump.outlet = OutletLSL(counter_spec)
        pump.skip_to_now()
        first_new = pump.sent
        wait_until(
            lambda: pump.step() >= 0 and rec.stats[0].reconnects > 0 and rec.stats[0].samples > 600,
            15.0,
        )
        wait_until(lambda: pump.step() >= 0 and False, 0.5)
    finally:
        rec.stop()
    got = read_recording(tmp_path / "gap.xdf")
    sig = got.signals[0]
    counter = sig.data[0]
    assert (counter >= first_new).sum() > 100, "no data recorded after the stream came back"
    events = [json.loads(m.value) for m in got.markers if m.stream == "bci-record-events"]
    kinds = [e["event"] for e in events]
    assert "silent" in kinds and "reconnected" in kinds and "gap" in kinds, kinds
    gap = next(e for e in events if e["event"] == "gap")
    assert gap["end"] - gap["start"] > 2.9
    assert rec.stats[0].lost == gap["lost"]


def test_cli_replay_record_devices(generated, tmp_path, uid):
    from typer.testing import CliRunner

    from bci._commands.main import app

    runner = CliRunner()
    res = runner.invoke(app, ["devices", "--timeout", "0.2"])
    assert res.exit_code == 0, res.output
    assert "synthetic" in res.output and "LSL streams visible now" in res.output
    res = runner.invoke(app, ["replay", str(tmp_path / "none.xdf")])
    assert res.exit_code == 1 and "none.xdf: no such file" in res.output
    res = runner.invoke(
        app,
        [
            "record",
            "-o",
            str(tmp_path / "x.xdf"),
            "--streams",
            f"nothing-{uid}",
            "--resolve-timeout",
            "0.2",
        ],
    )
    assert res.exit_code == 1 and "No LSL stream matches" in res.output
    # a real pair of processes: bci replay -> bci record (100 s of Muse CSV in 4 s)
    src = generated["muse-ssvep"]
    out = tmp_path / "cli.xdf"
    player = subprocess.Popen(
        [BCI, "replay", str(src), "--speed", "25", "--wait", "10", "--source-prefix", f"{uid}-"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # both outlets up before the recorder resolves (process start-up is slow on a busy box)
        pred = f"starts-with(source_id,'{uid}-')"
        assert wait_until(
            lambda: len(pylsl.resolve_bypred(pred, minimum=2, timeout=1.0)) >= 2, 30.0
        )
        res = subprocess.run(
            [
                BCI,
                "record",
                "-o",
                str(out),
                "--streams",
                f"starts-with(source_id,'{uid}-')",
                "--duration",
                "8",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert res.returncode == 0, res.stderr
        player.wait(30)
    finally:
        player.kill()
    assert player.returncode == 0
    got = read_recording(out)
    ref = read_recording(src)
    eeg = next(s for s in got.signals if s.spec.name == "Muse")
    np.testing.assert_array_equal(eeg.data, ref.signals[0].data)
    assert [m.value for m in got.markers if m.stream == "Muse-markers"] == [
        m.value for m in ref.markers
    ]


def test_kill9_bci_record(tmp_path, counter_spec):
    outlet = OutletLSL(counter_spec)
    pump = CounterPump(outlet, 250.0, 4)
    out = tmp_path / "killed.xdf"
    proc = subprocess.Popen(
        [BCI, "record", "-o", str(out), "--streams", counter_spec.name, "--resolve-timeout", "1"]
    )
    try:
        assert wait_until(
            lambda: pump.step() >= 0 and out.exists() and out.stat().st_size > 20_000, 20.0
        )
        wait_until(lambda: pump.step() >= 0 and False, 2.0)
        pump.step()
        t_kill = pylsl.local_clock()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    streams, _ = pyxdf.load_xdf(str(out))
    s = next(s for s in streams if s["info"]["name"][0] == counter_spec.name)
    n = s["time_series"][:, 0]
    np.testing.assert_array_equal(n, np.arange(n[0], n[0] + n.size))
    missing = t_kill - s["time_stamps"][-1]
    assert missing < 1.2, f"{missing:.3f} s lost"


def test_mne_lsl_reads_our_outlets(generated, uid):
    from mne_lsl.stream import StreamLSL

    board = subprocess.Popen(
        [BCI, "stream", "--board", "synthetic", "--name", f"synth-{uid}", "--duration", "30"],
        stderr=subprocess.PIPE,
        text=True,
    )
    player = subprocess.Popen(
        [
            BCI,
            "replay",
            str(generated["edf"]),
            "--loop",
            "--duration",
            "30",
            "--source-prefix",
            f"{uid}-",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:  # generous timeouts: both processes start slowly on a loaded machine
        s = StreamLSL(bufsize=2.0, name=f"synth-{uid}", stype="EEG").connect(timeout=60.0)
        assert s.info["sfreq"] == 250.0
        assert s.ch_names == [
            "Fz",
            "C3",
            "Cz",
            "C4",
            "Pz",
            "PO7",
            "Oz",
            "PO8",
            "F5",
            "F7",
            "F3",
            "F1",
            "F2",
            "F4",
            "F6",
            "F8",
        ]
        assert wait_until(lambda: s.n_new_samples > 0, 5.0)
        s.disconnect()
        edf = generated["edf"]
        r = StreamLSL(bufsize=2.0, name=edf.stem, source_id=f"{uid}-{edf.name}").connect(
            timeout=60.0
        )
        want = generated.sources["edf"].signals[0].spec
        assert r.info["sfreq"] == want.sfreq == 160.0 and r.ch_names == list(want.ch_names)
        assert wait_until(lambda: r.n_new_samples > 0, 5.0)
        r.disconnect()
    finally:
        for proc in (player, board):
            proc.terminate()
            proc.wait(10)
