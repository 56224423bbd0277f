"""Benchmark of the streams area (docs/design.md#benchmarks): recorder throughput and replay drift.

Scenarios
---------
``record_256ch_2kHz``
    A separate process publishes 256 float32 channels at 2 kHz (channel 0 is a sample
    counter, pushed every 10 ms on an absolute schedule). ``bci.devices.RecordLSL`` records
    it to XDF for N seconds (600 in the full run, 20 in ``quick``). The file is then
    parsed chunk by chunk (numpy, not pyxdf: the full run writes ~1.2 GB) and the
    counter must be contiguous: ``lost`` is the number of missing counter values.
    ``cpu_percent`` is the recording process's CPU time over wall time (100 = one core).
``replay_drift_1x``
    A 250 Hz two-channel recording replayed at 1x for N seconds; wake-up lateness
    p50/p99/max and ``drift_ms``: median lateness in the last tenth minus the first.

Run: ``python tools/bench_recorder.py [--quick]``.
"""

from __future__ import annotations

import os
import platform
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_PUBLISHER = """
import sys, time, numpy as np, pylsl
from bci import StreamSpec
from bci.devices import OutletLSL
name, n_ch, sfreq, dur = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
spec = StreamSpec(name, "EEG", name, sfreq, ("counter",) + tuple(f"ch{k}" for k in range(1, n_ch)))
out = OutletLSL(spec, max_buffered=30)
out.wait_for_consumers(30)
block = np.random.default_rng(0).standard_normal((n_ch, int(sfreq))).astype(np.float32)
t0 = pylsl.local_clock() + 0.05
sent, total = 0, int(dur * sfreq)
while sent < total:
    due = min(total, int((pylsl.local_clock() - t0) * sfreq)) - sent
    if due > 0:
        k = np.arange(sent, sent + due)
        data = block[:, k % block.shape[1]]
        data[0] = k
        out.push(data, t0 + k / sfreq)
        sent += due
    time.sleep(0.01)
time.sleep(1.0)
print(sent, flush=True)
"""


def machine() -> str:
    """Where the figures were measured."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, load {load:.2f}"


def count_xdf_samples(path: Path, stream_name: str) -> np.ndarray:
    """Counter channel of one float32 stream, read straight from the XDF chunks."""
    from bci.devices._readers import scan_xdf

    chunks = scan_xdf(path)
    counters: list[np.ndarray] = []
    sid, n_ch = None, None
    with open(path, "rb") as f:
        for off, length, tag in chunks:
            if tag not in (2, 3):
                continue
            width = {1: 1, 4: 4, 8: 8}
            f.seek(off)
            nb = f.read(1)[0]
            f.seek(off + 1 + width[nb] + 2)
            body = f.read(length - 2)
            this = struct.unpack("<I", body[:4])[0]
            if tag == 2:
                xml = body[4:].decode()
                if f"<name>{stream_name}</name>" in xml:
                    sid = this
                    n_ch = int(xml.split("<channel_count>")[1].split("<")[0])
                continue
            if this != sid:
                continue
            w = body[4]
            n = int.from_bytes(body[5 : 5 + w], "little")
            rec = np.dtype([("nb", "u1"), ("t", "<f8"), ("v", "<f4", (n_ch,))])
            arr = np.frombuffer(body, dtype=rec, count=n, offset=5 + w)
            counters.append(arr["v"][:, 0].copy())
    return np.concatenate(counters) if counters else np.empty(0)


def bench_record(seconds: float, n_ch: int = 256, sfreq: float = 2000.0) -> dict:
    """Record a synthetic high-rate outlet; check the counter; report CPU use."""
    import psutil

    from bci.devices import RecordLSL

    name = f"bench-rec-{os.getpid()}"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.xdf"
        pub = subprocess.Popen(
            [sys.executable, "-c", _PUBLISHER, name, str(n_ch), str(sfreq), str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        try:
            rec = RecordLSL(path, streams=[name], resolve_timeout=10.0).start()
            proc = psutil.Process()
            c0, w0 = proc.cpu_times(), time.perf_counter()
            sent = int(pub.communicate(timeout=seconds + 120)[0].strip() or 0)
            c1, w1 = proc.cpu_times(), time.perf_counter()
            rec.stop()
        finally:
            pub.kill()
        counter = count_xdf_samples(path, name)
        size = path.stat().st_size
    contiguous = bool(counter.size and np.array_equal(counter, np.arange(counter.size)))
    cpu = (c1.user + c1.system - c0.user - c0.system) / (w1 - w0) * 100
    return {
        "name": "record_256ch_2kHz"
        if (n_ch, sfreq) == (256, 2000.0)
        else f"record_{n_ch}ch_{sfreq:g}Hz",
        "seconds": seconds,
        "n_channels": n_ch,
        "sfreq": sfreq,
        "sent": sent,
        "recorded": int(counter.size),
        "lost": int(sent - counter.size) if contiguous else int(sent - np.unique(counter).size),
        "contiguous": contiguous,
        "cpu_percent": round(cpu, 1),
        "file_mb": round(size / 1e6, 1),
        "machine": machine(),
    }


def bench_replay_drift(seconds: float) -> dict:
    """Replay at 1x and measure how the wake-ups follow the absolute schedule."""
    from bci import StreamSpec
    from bci._recorder import RecorderXDF
    from bci.devices import ReplayLSL

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "drift.xdf"
        n = int(seconds * 250)
        with RecorderXDF(path) as rec:
            sid = rec.add_stream(
                StreamSpec("bench-drift", "EEG", f"bench-drift-{os.getpid()}", 250.0, ("a", "b"))
            )
            rec.write(
                sid, np.vstack([np.arange(n), np.zeros(n)]).astype(np.float32), np.arange(n) / 250.0
            )
        player = ReplayLSL(path, speed=1.0).start(lead=0.1)
        player.wait(seconds + 30)
        player.stop()
    late = np.array(player.stats.lateness) * 1e3
    k = max(1, late.size // 10)
    return {
        "name": "replay_drift_1x",
        "seconds": seconds,
        "wakeups": int(late.size),
        "lateness_p50_ms": round(float(np.median(late)), 3),
        "lateness_p99_ms": round(float(np.percentile(late, 99)), 3),
        "lateness_max_ms": round(float(late.max()), 3),
        "drift_ms": round(float(np.median(late[-k:]) - np.median(late[:k])), 4),
        "samples": player.stats.samples,
        "machine": machine(),
    }


def run(quick: bool = False) -> list[dict]:
    """Run every scenario (``quick``: 20 s each instead of 10 min)."""
    seconds = 20.0 if quick else 600.0
    return [bench_record(seconds), bench_replay_drift(seconds)]


def markdown(results: list[dict]) -> str:
    """A markdown table of :func:`run`'s results."""
    lines = ["| scenario | figures | machine |", "|---|---|---|"]
    for r in results:
        figs = ", ".join(f"{k}={v}" for k, v in r.items() if k not in ("name", "machine"))
        lines.append(f"| {r['name']} | {figs} | {r['machine']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.WARNING)
    print(markdown(run(quick="--quick" in sys.argv)))  # noqa: T201
