"""The asyncio engine through real LSL: decisions, stamps, overruns, NaN bursts, bounded queues."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pylsl

from bci._decoder import DecoderONNX
from bci._runtime import Budgets, Engine, EngineSettings
from bci.devices import OutletLSL, SourceLSL

from .conftest import EEGPusher


def _inlet(name: str) -> pylsl.StreamInlet:
    info = pylsl.resolve_byprop("name", name, 1, 5.0)
    assert info, f"stream {name} not found"
    inlet = pylsl.StreamInlet(info[0], max_buflen=10)
    inlet.open_stream(timeout=5.0)
    return inlet


def _settings(uid: str, **kw) -> EngineSettings:
    base = {"session": f"t{uid}", "lsl_name": f"dec-{uid}", "warmup": 2, "metrics_interval": 0.5}
    base.update(kw)
    return EngineSettings(**base)


async def test_engine_decides_on_lsl_with_stamps(uid: str, tiny_onnx: Path) -> None:
    with EEGPusher(f"eeg-{uid}") as pusher:
        engine = Engine(
            SourceLSL(name=f"eeg-{uid}", timeout=5.0),
            DecoderONNX(tiny_onnx),
            _settings(uid),
            outlet_factory=OutletLSL,
        )
        await asyncio.to_thread(engine.prepare)
        dec_in, st_in = _inlet(f"dec-{uid}"), _inlet(f"dec-{uid}-stamps")
        snaps: list[dict] = []
        engine.on_metrics = snaps.append
        counters = await engine.run(duration=3.0)
        dec, dec_ts = dec_in.pull_chunk(timeout=1.0, max_samples=1000)
        stamps, _ = st_in.pull_chunk(timeout=1.0, max_samples=1000)
        dec_in.close_stream()
        st_in.close_stream()
        engine.close()
    assert pusher.pushed > 500
    # one window per 25-sample hop once the first 250 samples are in (the first pull also
    # drains what the inlet buffered during prepare)
    expected = (counters.samples - 250) // 25 + 1
    assert expected >= 15
    # every hop is decided, or counted as skipped (a stalled host) or dropped as stale
    c = counters
    assert expected - 2 <= c.decisions + c.skipped_hops + c.dropped_stale <= expected
    assert c.decisions >= expected // 2
    assert len(dec) >= counters.decisions - 2 and len(stamps) == len(dec)
    d = np.array(dec)
    assert d.shape[1] == 6 and np.allclose(d[:, :5].sum(axis=1), 1.0, atol=1e-4)
    s = np.array(stamps)
    assert np.all(np.diff(s, axis=1) >= 0)  # t_sample <= t_pull <= t_decoded <= t_published
    np.testing.assert_allclose(dec_ts, s[:, 0])  # decisions are stamped with t_sample
    assert snaps and snaps[-1]["counters"]["decisions"] == counters.decisions
    assert snaps[-1]["latency_ms"]["decision"]["p50"] is not None
    # nothing here may lose a decision silently: every window is decoded, dropped or skipped
    c = counters
    assert c.windows == c.decisions + c.dropped_stale + c.skipped_nonfinite


async def test_nan_burst_is_counted_and_skipped(uid: str, tiny_onnx: Path) -> None:
    with EEGPusher(f"eeg-{uid}", nan_at=(1.5, 30)):
        engine = Engine(
            SourceLSL(name=f"eeg-{uid}"), DecoderONNX(tiny_onnx), _settings(uid, lsl_outputs=False)
        )
        await asyncio.to_thread(engine.prepare)
        counters = await engine.run(duration=3.5)
        engine.close()
    # the source may have started late by up to a chunk; all 30 NaN samples arrive
    assert counters.nonfinite_samples == 30
    # windows overlapping the burst (1 s + 0.12 s span at 10/s) are not decoded
    assert 9 <= counters.skipped_nonfinite <= 13
    assert counters.decisions >= 5  # decoding resumed after the burst
    assert np.isfinite(engine.last_decision["values"]).all()
    kinds = [e["event"] for e in engine.recent_events]
    assert "nonfinite" in kinds
    assert kinds.count("window_skipped") == 1  # one event per burst, not per window


class SlowDecoder:
    """A real ONNX decoder made deliberately slow (sleeps in the decoder thread)."""

    def __init__(self, path: Path, delay: float):
        self._dec = DecoderONNX(path)
        self.delay = delay
        for attr in (
            "n_channels",
            "n_times",
            "provider",
            "classes",
            "model_id",
            "n_outputs",
            "check_input",
        ):
            setattr(self, attr, getattr(self._dec, attr))

    def warmup(self, n: int = 10) -> float:
        return self._dec.warmup(n)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        time.sleep(self.delay)
        return self._dec(x)


async def test_slow_decoder_counts_overruns_without_backlog(uid: str, tiny_onnx: Path) -> None:
    delay = 0.15  # 150 ms per window against a 100 ms hop and a 20 ms budget
    with EEGPusher(f"eeg-{uid}"):
        engine = Engine(
            SourceLSL(name=f"eeg-{uid}"),
            SlowDecoder(tiny_onnx, delay),
            _settings(uid, lsl_outputs=False, budgets=Budgets(decision_ms=20.0)),
        )
        await asyncio.to_thread(engine.prepare)
        counters = await engine.run(duration=4.0)
        engine.close()
    lat = engine.stats.values("decision")
    assert counters.decisions >= 5
    assert counters.overruns >= counters.decisions  # every decision is late
    # windows completed while the decoder was busy are never decoded late: the hops passed
    # are skipped, and a window already older than the budget when cut is dropped
    assert counters.skipped_hops + counters.dropped_stale >= 5
    # bounded: no decision is older than one decode + one hop + the budget (+ 60 ms slack for a busy host)
    assert lat.max() < (delay + 0.1 + 0.02 + 0.06) * 1e3, lat
    # no backlog: latency does not grow over the session
    assert lat[-3:].mean() < lat[:3].mean() + 50


def test_every_runtime_queue_is_bounded() -> None:
    """Static check: the runtime never creates an unbounded asyncio/queue.Queue."""
    import re

    root = Path(__file__).resolve().parents[2] / "bci"
    for path in [*root.joinpath("_runtime").glob("*.py"), root / "_mqtt.py", root / "_session.py"]:
        text = path.read_text()
        for m in re.finditer(r"(asyncio\.Queue|queue\.Queue|SimpleQueue|deque)\(([^)]*)\)", text):
            assert "maxsize" in m.group(2) or "maxlen" in m.group(2), (
                f"{path.name}: unbounded {m.group(0)}"
            )
