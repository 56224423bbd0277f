"""Benchmark virtual time: how much faster than real time ``bci.decode_recording`` runs.

A recording of the simulated participant (16 ch @ 250 Hz, SSVEP paradigm, with its markers)
is written to XDF, then decoded in virtual time (``speed=None``: the file's timestamps are
the clock) with 1 s windows every 0.1 s (10 decisions per second of signal):

- ``default``: the shipped default decoder (a 4-layer transformer, ~0.7 ms a window on one
  CPU thread): the model's own cost bounds the speed-up;
- ``near-free``: a tiny convolutional decoder, so what is left is the pipeline's own cost
  (reading, filters with carried state, windows, post-processing);
- ``peer``: the least any implementation can do with the same model: the whole file filtered
  at once with ``scipy.signal.sosfilt``, every window stacked, one onnxruntime run per batch,
  no post-processing (what the pipeline costs on top of it is the ratio).

One onnxruntime thread everywhere. On a shared machine the wall-clock figures depend on the
load; the CPU time of the process (``time.process_time``, file reading included) is the cost. Usage: ``python tools/bench_virtual.py [--minutes M]
[--json F]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def _machine() -> str:
    import os

    load = os.getloadavg()[0]
    return (
        f"{platform.machine()}, {os.cpu_count()} cores (shared), load {load:.2f}, "
        f"Python {platform.python_version()}"
    )


def _peer(path: Path, decoder: str | Path) -> tuple[int, float]:
    """Filter everything at once, stack every window, decode in batches: (decisions, wall s)."""
    from scipy import signal

    from bci import DecoderONNX
    from bci.devices import read_recording

    dec = DecoderONNX(decoder, provider="cpu", threads=1)
    sig = read_recording(path).signals[0]
    t0 = time.perf_counter()
    fs = sig.spec.sfreq
    sos = np.vstack(
        [
            signal.butter(4, [3.0, 40.0], btype="bandpass", fs=fs, output="sos"),
            signal.tf2sos(*signal.iirnotch(50.0, 30.0, fs=fs)),
        ]
    )
    y = signal.sosfilt(sos, sig.data.astype(np.float64), axis=-1).astype(np.float32)
    n, hop = dec.n_times, 25
    starts = np.arange(0, y.shape[1] - n + 1, hop)
    out = [
        dec.decode_batch(np.stack([y[:, s : s + n] for s in starts[a : a + 16]]))
        for a in range(0, len(starts), 16)
    ]
    return sum(len(o) for o in out), time.perf_counter() - t0


def run(minutes: float = 5.0, repeats: int = 3) -> list[dict]:
    """Measure the three rows (median of ``repeats`` runs each); returns one dict per row."""
    from runtime.conftest import export_tiny_onnx, write_simulated_xdf  # the tests' helpers

    import bci

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = write_simulated_xdf(Path(tmp) / "sim.xdf", 60.0 * minutes, "ssvep", seed=3)
        tiny = export_tiny_onnx(Path(tmp) / "tiny.onnx")
        bci.decode_recording(tiny, [path])  # warm caches and imports
        for name, dec in (("default", "default"), ("near-free", tiny)):
            runs, cpus = [], []
            for _ in range(repeats):
                c0 = time.process_time()
                runs.append(bci.decode_recording(dec, [path])[0])
                cpus.append(time.process_time() - c0)
            r = sorted(runs, key=lambda x: x.wall_s)[len(runs) // 2]  # the median run
            cpu = float(np.median(cpus))
            rows.append(
                {
                    "name": f"virtual time, {name} decoder",
                    "signal_s": round(r.duration_s, 1),
                    "decisions": len(r.decisions),
                    "wall_s": round(r.wall_s, 3),
                    "x_real_time": round(r.realtime_factor, 1),
                    "x_real_time_runs": [round(x.realtime_factor, 1) for x in runs],
                    "cpu_s": round(cpu, 3),
                    "x_real_time_cpu": round(r.duration_s / cpu, 1),
                }
            )
        peers, cpus = [], []
        for _ in range(repeats):
            c0 = time.process_time()
            peers.append(_peer(path, "default"))
            cpus.append(time.process_time() - c0)
        n, wall = sorted(peers, key=lambda p: p[1])[len(peers) // 2]
        cpu = float(np.median(cpus))
        duration = rows[0]["signal_s"]
        rows.append(
            {
                "name": "peer: whole-file sosfilt + batched onnxruntime, default decoder",
                "signal_s": duration,
                "decisions": n,
                "wall_s": round(wall, 3),
                "x_real_time": round(duration / wall, 1),
                "x_real_time_runs": [round(duration / p[1], 1) for p in peers],
                "cpu_s": round(cpu, 3),
                "x_real_time_cpu": round(duration / cpu, 1),
            }
        )
    machine = _machine()
    for r in rows:
        r["machine"] = machine
    return rows


def markdown(rows: list[dict]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| run | signal (s) | decisions | wall (s) | x real time | CPU (s) | x real time (CPU) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['signal_s']:g} | {r['decisions']} | {r['wall_s']:.2f} "
            f"| {r['x_real_time']:.0f} | {r['cpu_s']:.2f} | {r['x_real_time_cpu']:.0f} |"
        )
    lines.append(
        f"\nmedian of {len(rows[0]['x_real_time_runs'])} runs; machine: {rows[0]['machine']}"
    )
    return "\n".join(lines)


def main() -> None:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0, help="Minutes of simulated signal.")
    ap.add_argument("--repeats", type=int, default=3, help="Runs per row (the median is kept).")
    ap.add_argument("--json", type=Path, default=None, help="Write the rows to this JSON file.")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = run(args.minutes, args.repeats)
    print(markdown(rows))  # noqa: T201 - a command-line tool's output
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
