"""Benchmark the simulated participant (docs/design.md#benchmarks: ``run(quick)``, ``markdown(results)``).

Scenarios:

- ``offline``: ``bci.devices.simulated.simulate`` speed (seconds of signal per second of CPU) for
  the default EEG (16 ch @ 250 Hz, SSVEP paradigm) and EMG (16 ch @ 2 kHz, gestures);
- ``render``: cost of one 20 ms live chunk (median / p99) for EEG 16 @ 250 Hz,
  EEG 32 @ 1 kHz and EMG 16 @ 2 kHz;
- ``live``: the participant on real LSL: transport (``t_pull - newest sample stamp``) seen by a
  ``bci.devices.SourceLSL`` polling every 4 ms, timestamp-step error, and lost samples.

Usage: ``python tools/bench_simulated.py [--quick]`` or ``bci bench --only simulated``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _machine() -> str:
    return f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu, py{platform.python_version()}"


def _offline(quick: bool) -> list[dict]:
    from bci.config import SimulatedSourceConfig
    from bci.devices.simulated import simulate

    out = []
    for label, cfg, dur in (
        ("offline eeg16@250", SimulatedSourceConfig(), 60.0 if quick else 300.0),
        (
            "offline emg16@2000",
            SimulatedSourceConfig(mode="emg", n_channels=16, sfreq=2000.0),
            20.0 if quick else 60.0,
        ),
    ):
        t = time.perf_counter()
        simulate(cfg, dur)
        dt = time.perf_counter() - t
        out.append(
            {
                "name": label,
                "signal_s": dur,
                "cpu_s": round(dt, 3),
                "x_realtime": round(dur / dt, 1),
            }
        )
    return out


def _render(quick: bool) -> list[dict]:
    from bci.config import SimulatedSourceConfig
    from bci.devices.simulated._offline import make_engine

    out = []
    for label, cfg in (
        ("render eeg16@250", SimulatedSourceConfig()),
        ("render eeg32@1000", SimulatedSourceConfig(n_channels=32, sfreq=1000.0)),
        ("render emg16@2000", SimulatedSourceConfig(mode="emg", n_channels=16, sfreq=2000.0)),
    ):
        eng = make_engine(cfg)
        n = round(0.02 * cfg.sfreq)
        eng.render(10 * n)
        times = []
        for _ in range(200 if quick else 2000):
            t = time.perf_counter()
            eng.render(n)
            times.append(time.perf_counter() - t)
        ms = np.array(times) * 1e3
        out.append(
            {
                "name": label,
                "chunk_ms_p50": round(float(np.median(ms)), 3),
                "chunk_ms_p99": round(float(np.percentile(ms, 99)), 3),
            }
        )
    return out


def _live(quick: bool) -> list[dict]:
    import pylsl

    from bci.config import SimulatedSourceConfig
    from bci.devices import SourceLSL
    from bci.devices.simulated import SimulatedParticipant

    uid = uuid.uuid4().hex[:8]
    cfg = SimulatedSourceConfig(
        paradigm="ssvep",
        name=f"bench-sim-{uid}",
        markers=f"bench-mk-{uid}",
        stimuli=f"bench-st-{uid}",
        truth=f"bench-gt-{uid}",
    )
    sim = SimulatedParticipant(cfg).start()
    src = SourceLSL(name=cfg.name, timeout=10.0).connect()
    lat, stamps = [], []
    try:
        t_end = pylsl.local_clock() + (5.0 if quick else 30.0)
        nxt = pylsl.local_clock()
        while pylsl.local_clock() < t_end:
            c = src.pull()
            if c is not None:
                lat.append(c.t_pull - c.timestamps[-1])
                stamps.append(c.timestamps)
            nxt += 0.004
            time.sleep(max(0.0, nxt - pylsl.local_clock()))
        lost = src.lost_samples
    finally:
        src.disconnect()
        sim.stop()
    ts = np.concatenate(stamps)
    ms = np.array(lat) * 1e3
    return [
        {
            "name": "live eeg16@250 (20 ms chunks)",
            "transport_ms_p50": round(float(np.median(ms)), 2),
            "transport_ms_p99": round(float(np.percentile(ms, 99)), 2),
            "stamp_step_err_us_max": round(
                float(np.abs(np.diff(ts) - 1 / cfg.sfreq).max() * 1e6), 3
            ),
            "samples": int(ts.size),
            "lost": int(lost),
        }
    ]


def run(quick: bool = False) -> list[dict]:
    """Run every scenario; one dict per scenario with ``name``, figures and ``machine``."""
    results = _offline(quick) + _render(quick) + _live(quick)
    for r in results:
        r["machine"] = _machine()
    return results


def markdown(results: list[dict]) -> str:
    """A markdown table per scenario family."""
    lines = ["### Simulated participant", ""]
    for r in results:
        figures = ", ".join(f"{k}={v}" for k, v in r.items() if k not in ("name", "machine"))
        lines.append(f"- **{r['name']}**: {figures}")
    if results:
        lines += ["", f"Machine: {results[0]['machine']}"]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    res = run(args.quick)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    sys.stdout.write(markdown(res) + "\n")
