"""Benchmark the real-time runtime through real LSL against an mne-lsl peer pipeline.

Scenarios (docs/design.md#benchmarks: ``run(quick) -> list[dict]``, ``markdown(results) -> str``):

- ``a``: 16 ch @ 250 Hz, 1 s windows, 10 decisions/s, the default decoder;
- ``a0``: the same stream with a near-free decoder (log-variance + LDA, microseconds), so the
  latency left is the pipeline's own: what a faster model could at best bring either side to;
- ``b``: 64 ch @ 1 kHz, same windowing, a generated ONNX decoder of that shape;
- ``c``: 256 ch @ 2 kHz, throughput.

A publisher process pushes synthetic EEG on a real LSL outlet every 4 ms (an absolute
schedule). Our pipeline (``bci._runtime.Engine``: SourceLSL -> band-pass + notch -> windows ->
DecoderONNX -> LSL outlets, all in the engine's hot-path thread) runs first; then the peer: mne-lsl's ``StreamLSL`` as its
documentation shows (``connect(acquisition_delay=0.001)``, ``filter(1, 40)``,
``notch_filter(50)``, poll ``n_new_samples``, ``get_data(winsize)``) feeding the same ONNX
model through the same ``DecoderONNX``. Decision latency for both is ``t_published -
t_sample`` (newest sample's LSL timestamp to the decision pushed on an LSL outlet).

Usage: ``python tools/bench_runtime.py [--quick] [--duration S] [--only a,b] [--json F]`` or
``bci bench --only runtime``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bci.devices.simulated import DEFAULT_EEG_MONTAGE  # noqa: E402 - after the sys.path set-up

if TYPE_CHECKING:
    from bci._runtime import EngineSettings

logger = logging.getLogger("bench_runtime")

SCENARIOS = {
    "a": {
        "name": "a: 16 ch @ 250 Hz, 1 s windows, 10 decisions/s",
        "n_channels": 16,
        "sfreq": 250.0,
    },
    "a0": {
        "name": "a0: as a, near-free decoder (pipeline overhead)",
        "n_channels": 16,
        "sfreq": 250.0,
    },
    "b": {
        "name": "b: 64 ch @ 1 kHz, 1 s windows, 10 decisions/s",
        "n_channels": 64,
        "sfreq": 1000.0,
    },
    "c": {
        "name": "c: 256 ch @ 2 kHz, 1 s windows, 10 decisions/s (throughput)",
        "n_channels": 256,
        "sfreq": 2000.0,
    },
}
SIM_MONTAGE = list(DEFAULT_EEG_MONTAGE)  # the simulated participant's default 16 channels
PUSH_PERIOD = 0.004  # the publisher pushes every 4 ms
STAGES = ("transport", "processing", "output", "decision")

PUBLISHER = r"""
import sys, time, numpy as np, pylsl
name, n_ch, sfreq, period, dur = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
names = sys.argv[6].split(",")
info = pylsl.StreamInfo(name, "EEG", n_ch, sfreq, "float32", name + "-src")
chs = info.desc().append_child("channels")
for ch in names:
    c = chs.append_child("channel"); c.append_child_value("label", ch)
    c.append_child_value("type", "eeg"); c.append_child_value("unit", "microvolts")
out = pylsl.StreamOutlet(info, 0, 10)
rng = np.random.default_rng(0)
noise = (rng.standard_normal((int(sfreq) * 4, n_ch)) * 10).astype(np.float32)
t0 = pylsl.local_clock(); k = 0; n_sent = 0
while True:
    due = t0 + (k + 1) * period
    while (now := pylsl.local_clock()) < due - 0.0005:
        time.sleep(min(0.001, due - now - 0.0004))
    while pylsl.local_clock() < due:
        pass
    n_due = round((k + 1) * period * sfreq) - n_sent  # exact: one sample per push at 250 Hz
    if n_due > 0:
        i = n_sent % (noise.shape[0] - n_due)
        block = np.ascontiguousarray(noise[i:i + n_due])
        t_last = pylsl.local_clock()
        out.push_chunk(block, (t_last - (n_due - 1 - np.arange(n_due)) / sfreq).tolist())
        n_sent += n_due
    k += 1
    if due - t0 > dur:
        break
"""


def make_onnx(
    path: Path, n_channels: int, n_times: int, sfreq: float, ch_names: list[str], n_classes: int = 5
) -> Path:
    """Write a small classical-pipeline ONNX decoder (spatial filters -> log-variance -> LDA -> softmax)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = (rng.standard_normal((n_channels, 8)) / np.sqrt(n_channels)).astype(np.float32)
    lda = rng.standard_normal((8, n_classes)).astype(np.float32)
    bias = np.zeros(n_classes, np.float32)
    axes = np.array([1], np.int64)
    nodes = [
        helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["xt", "W"], ["s"]),
        helper.make_node("Mul", ["s", "s"], ["s2"]),
        helper.make_node("ReduceMean", ["s2", "axes"], ["var"], keepdims=0),
        helper.make_node("Log", ["var"], ["lv"]),
        helper.make_node("MatMul", ["lv", "L"], ["z"]),
        helper.make_node("Add", ["z", "b"], ["zb"]),
        helper.make_node("Softmax", ["zb"], ["y"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "bench",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", n_channels, n_times])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", n_classes])],
        [
            numpy_helper.from_array(w, "W"),
            numpy_helper.from_array(lda, "L"),
            numpy_helper.from_array(bias, "b"),
            numpy_helper.from_array(axes, "axes"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    meta = {
        "sfreq": sfreq,
        "ch_names": ch_names,
        "n_times": n_times,
        "classes": [f"c{i}" for i in range(n_classes)],
        "preprocess": {"bandpass": [1.0, 40.0], "notch": 50.0},
        "model_id": f"bench-{n_channels}x{n_times}",
        "version": "bench",
    }
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = f"bci.{key}", json.dumps(value)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _pct(values: np.ndarray) -> dict[str, float | None]:
    if values.size == 0:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "p50": round(float(p50), 3),
        "p95": round(float(p95), 3),
        "p99": round(float(p99), 3),
        "max": round(float(values.max()), 3),
    }


def _start_publisher(
    name: str, n_ch: int, sfreq: float, duration: float, names: list[str]
) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            PUBLISHER,
            name,
            str(n_ch),
            str(sfreq),
            str(PUSH_PERIOD),
            str(duration),
            ",".join(names),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def engine_settings(name: str, budget_ms: float, realtime: bool = True) -> EngineSettings:
    """Our engine's settings in every scenario: 1 s windows every 0.1 s to ``<name>-decisions``.

    ``realtime=False`` runs the hot path with ordinary scheduling (``realtime_priority=None``);
    otherwise it is scheduled as sessions schedule it.
    """
    import dataclasses

    from bci._runtime import Budgets, EngineSettings

    settings = EngineSettings(
        session="bench",
        window=1.0,
        hop=0.1,
        bandpass=(1.0, 40.0),
        notch=50.0,
        budgets=Budgets(decision_ms=budget_ms),
        lsl_name=f"{name}-decisions",
        warmup=20,
        metrics_interval=5.0,
    )
    return settings if realtime else dataclasses.replace(settings, realtime_priority=None)


def _ours(name: str, model: Path, duration: float, budget_ms: float, realtime: bool) -> dict:
    import psutil

    from bci._decoder import DecoderONNX
    from bci._runtime import Engine
    from bci.devices import OutletLSL, SourceLSL

    engine = Engine(
        SourceLSL(name=name, timeout=10.0, bufsize=2.0),
        DecoderONNX(model, provider="cpu", threads=1),
        engine_settings(name, budget_ms, realtime),
        outlet_factory=OutletLSL,
    )
    engine.prepare()
    proc = psutil.Process()
    proc.cpu_percent(None)
    asyncio.run(engine.run(duration=duration))
    cpu = proc.cpu_percent(None)
    engine.close()
    c = engine.counters
    return {
        "stages": {st: engine.stats.values(st).copy() for st in STAGES},
        "cpu": cpu,
        "seconds": duration,
        "overruns": c.overruns,
        "dropped": c.dropped_stale + c.skipped_hops,
        "lost_samples": c.lost_samples,
    }


def _peer(name: str, model: Path, duration: float, budget_ms: float) -> dict:
    """mne-lsl's StreamLSL used as its documentation shows, feeding the same ONNX model."""
    import psutil
    import pylsl
    from mne_lsl.stream import StreamLSL

    from bci._decoder import DecoderONNX

    decoder = DecoderONNX(model, provider="cpu", threads=1)
    decoder.warmup(20)
    stream = StreamLSL(bufsize=2.0, name=name).connect(acquisition_delay=0.001, timeout=10)
    stream.filter(1.0, 40.0, picks="eeg")
    stream.notch_filter(50.0, picks="eeg")
    outlet = pylsl.StreamOutlet(
        pylsl.StreamInfo(f"{name}-peer", "Decision", 6, 0, "float32", f"{name}-peer")
    )
    sfreq = stream.info["sfreq"]
    hop = round(0.1 * sfreq)
    proc = psutil.Process()
    # let the 1 s window fill before timing
    t_fill = time.perf_counter() + 1.2
    while time.perf_counter() < t_fill:
        time.sleep(0.01)
    stream.get_data(winsize=1.0)
    proc.cpu_percent(None)
    lat = []
    overruns = 0
    t_end = time.perf_counter() + duration
    while time.perf_counter() < t_end:
        if stream.n_new_samples < hop:
            time.sleep(0.001)
            continue
        data, ts = stream.get_data(winsize=1.0)
        y = decoder(np.ascontiguousarray(data[:, -decoder.n_times :], dtype=np.float32))
        row = np.zeros(6, np.float32)
        row[: min(5, y.size)] = y[:5]
        outlet.push_sample(row, float(ts[-1]))
        t_pub = pylsl.local_clock()
        latency = (t_pub - ts[-1]) * 1e3
        lat.append(latency)
        overruns += latency > budget_ms
    cpu = proc.cpu_percent(None)
    stream.disconnect()
    return {"decision": np.array(lat), "cpu": cpu, "seconds": duration, "overruns": int(overruns)}


def _machine() -> str:
    import psutil

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{platform.node()} {platform.machine()}, {psutil.cpu_count()} cores, load {load:.2f}, Python {platform.python_version()}"


def run(
    quick: bool = False,
    duration: float | None = None,
    only: list[str] | None = None,
    realtime: bool = True,
) -> list[dict]:
    """Run the scenarios; return one dict per scenario (docs/design.md#benchmarks).

    Parameters
    ----------
    quick : bool
        10 s per pipeline and scenario (else 30 s).
    duration : float | None
        Seconds per pipeline and scenario (300 for the 5-minute acceptance run of ``a``).
    only : list of str | None
        Scenario keys (``a``, ``a0``, ``b``, ``c``).
    realtime : bool
        Our hot path under real-time scheduling, as sessions run it (else ordinary).
    """
    from bci._decoder import default_decoder_path

    duration = duration or (10.0 if quick else 30.0)
    keys = [k for k in SCENARIOS if not only or k in only]
    results = []
    tmp = Path(tempfile.mkdtemp(prefix="bci-bench-"))
    for key in keys:
        sc = SCENARIOS[key]
        n_ch, sfreq = sc["n_channels"], sc["sfreq"]
        names = SIM_MONTAGE if n_ch == 16 else [f"EEG{i:03d}" for i in range(n_ch)]
        model, note = None, ""
        if key == "a":
            if default_decoder_path().is_file():
                model, note = default_decoder_path(), "default decoder"
            else:
                note = "default decoder missing: generated stand-in of the same shape"
        if model is None:
            model = make_onnx(tmp / f"{key}.onnx", n_ch, int(sfreq), sfreq, names)
            note = note or "generated decoder (spatial filters + log-variance + LDA)"
        name = f"bench-{key}-{os.getpid()}"
        budget = 20.0
        # Alternate ours and the peer in segments so both see the same share of host load.
        n_seg = max(1, min(10, round(duration / 15)))
        seg = duration / n_seg
        pub = _start_publisher(name, n_ch, sfreq, 2 * duration + 20 * n_seg, names)
        ours_parts, peer_parts = [], []
        try:
            for i in range(n_seg):
                logger.info(
                    "scenario %s segment %d/%d: ours for %g s, then the mne-lsl peer",
                    key,
                    i + 1,
                    n_seg,
                    seg,
                )
                ours_parts.append(_ours(name, model, seg, budget, realtime))
                peer_parts.append(_peer(name, model, seg, budget))
        finally:
            pub.kill()
            pub.wait(5)
        stages = {st: _pct(np.concatenate([x["stages"][st] for x in ours_parts])) for st in STAGES}
        ours = {
            "decision_latency_ms": stages["decision"],
            "stages_ms": stages,
            "decisions": int(sum(x["stages"]["decision"].size for x in ours_parts)),
            "cpu_percent": round(float(np.mean([x["cpu"] for x in ours_parts])), 1),
            "overruns": sum(x["overruns"] for x in ours_parts),
            "dropped": sum(x["dropped"] for x in ours_parts),
            "lost_samples": sum(x["lost_samples"] for x in ours_parts),
        }
        peer_lat = np.concatenate([x["decision"] for x in peer_parts])
        peer = {
            "decision_latency_ms": _pct(peer_lat),
            "decisions": int(peer_lat.size),
            "cpu_percent": round(float(np.mean([x["cpu"] for x in peer_parts])), 1),
            "overruns": sum(x["overruns"] for x in peer_parts),
        }
        o, p = ours["decision_latency_ms"], peer["decision_latency_ms"]
        ratios = {
            k: (round(o[k] / p[k], 3) if o[k] and p[k] else None)
            for k in ("p50", "p95", "p99", "max")
        }
        results.append(
            {
                "name": sc["name"],
                "scenario": key,
                "duration_s": duration,
                "decoder": note,
                "decision_latency_ms": o,
                "stages_ms": ours["stages_ms"],
                "decisions": ours["decisions"],
                "cpu_percent": ours["cpu_percent"],
                "overruns": ours["overruns"],
                "dropped": ours["dropped"],
                "lost_samples": ours["lost_samples"],
                "budget_ms": budget,
                "peer_decision_latency_ms": p,
                "peer_decisions": peer["decisions"],
                "peer_cpu_percent": peer["cpu_percent"],
                "peer_overruns": peer["overruns"],
                "ratio_ours_over_peer": ratios,
                "peer": "mne-lsl StreamLSL",
                "machine": _machine(),
            }
        )
    return results


def markdown(results: list[dict]) -> str:
    """A Markdown table of the results (ours vs the mne-lsl peer)."""
    lines = [
        "| scenario | decisions | decision ms p50 / p95 / p99 / max | transport p99 | processing p99 | CPU % | overruns | drops | lost | peer p50 / p99 / max | peer CPU % | ours/peer p99 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        d, p, s = r["decision_latency_ms"], r["peer_decision_latency_ms"], r["stages_ms"]
        f = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
        lines.append(
            f"| {r['name']} | {r['decisions']} | {f(d['p50'])} / {f(d['p95'])} / {f(d['p99'])} / {f(d['max'])} "
            f"| {f(s['transport']['p99'])} | {f(s['processing']['p99'])} | {r['cpu_percent']} | {r['overruns']} "
            f"| {r['dropped']} | {r['lost_samples']} | {f(p['p50'])} / {f(p['p99'])} / {f(p['max'])} "
            f"| {r['peer_cpu_percent']} | {f(r['ratio_ours_over_peer']['p99'])} |"
        )
    if results:
        lines.append(
            f"\nmachine: {results[0]['machine']}; {results[0]['duration_s']:g} s per pipeline and scenario"
        )
    return "\n".join(lines)


def main() -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--duration", type=float, default=None)
    ap.add_argument("--only", default=None, help="comma-separated scenario keys: a,a0,b,c")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--no-realtime",
        action="store_true",
        help="run our hot path with ordinary scheduling (realtime_priority: null)",
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    only = args.only.split(",") if args.only else None
    res = run(args.quick, args.duration, only, not args.no_realtime)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    sys.stdout.write(markdown(res) + "\n")


if __name__ == "__main__":
    main()
