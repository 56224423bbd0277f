"""Display processing, settings and the server over a real WebSocket (no browser)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from bci import ConfigError
from bci._view import (
    Decimator,
    DisplayFilter,
    TraceRing,
    ViewServer,
    ViewSettings,
    cue_class,
    decimation_factor,
    is_loopback,
)
from bci._view._app import dumps

from .conftest import Publisher


def test_decimator_keeps_the_remainder_for_the_next_chunk():
    dec = Decimator(4, 2)
    x = np.vstack([np.arange(10.0), -np.arange(10.0)])
    t = np.arange(10.0)
    y1, t1 = dec(x[:, :6], t[:6])
    y2, t2 = dec(x[:, 6:], t[6:])
    np.testing.assert_allclose(np.hstack([y1, y2])[0], [1.5, 5.5])
    np.testing.assert_allclose(np.hstack([t1, t2]), [3.0, 7.0])
    assert decimation_factor(250.0) == 2 and decimation_factor(1000.0) == 8
    assert decimation_factor(100.0) == 1


def test_trace_ring_skips_ahead_instead_of_queueing():
    ring = TraceRing(3, capacity=100)
    for k in range(30):
        ring.write(np.full((3, 10), k, np.float32), np.arange(10) + 10.0 * k)
    x, t, count, skipped = ring.since(0, limit=50)
    assert count == 300 and x.shape == (3, 50) and skipped == 250
    assert t[-1] == 299.0 and x[0, -1] == 29
    ring.gap(300.0)
    x, t, count, _ = ring.since(count, limit=50)
    assert count == 301 and np.isnan(x).all() and t[0] == 300.0


def test_display_filter_is_continuous_across_chunks():
    fs = 250.0
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2000)) + 100.0  # DC offset: filtered out without a step
    whole = DisplayFilter(fs, 2)(x)
    f = DisplayFilter(fs, 2)
    parts = np.hstack([f(x[:, i : i + 37]) for i in range(0, 2000, 37)])
    np.testing.assert_allclose(parts, whole, atol=1e-9)
    assert abs(whole[:, 500:].mean()) < 0.2  # the offset is gone


def test_cue_to_class():
    classes = ["8.0", "10.0", "12.0", "15.0", "rest"]
    assert cue_class("ssvep_8", classes) == 0
    assert cue_class("ssvep_15.0", classes) == 3
    assert cue_class("rest", classes) == 4
    assert cue_class("off", classes) == 4
    assert cue_class("face", classes) is None


def test_clipping_is_railed_but_a_pure_sine_is_not():
    from bci._quality import QualityCheck

    i = np.arange(2500)
    sine = 20 * np.sin(2 * np.pi * 10 * i / 250)
    clipped = np.clip(sine * 5, -60, 60)  # saturating amplifier
    report = QualityCheck(250.0, ["a", "b"])(np.vstack([sine, clipped]))
    assert [c.status for c in report] == ["ok", "railed"]


def test_exposing_needs_a_token():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and not is_loopback("0.0.0.0")
    with pytest.raises(ConfigError, match="token"):
        ViewSettings(host="0.0.0.0").check()
    ViewSettings(host="0.0.0.0", token="x").check()
    s = ViewSettings(signal="a", required=("Oz",), bandpass=(1.0, 30.0))
    assert ViewSettings.from_json(s.to_json()) == s


def test_frames_have_no_nan():
    text = dumps({"a": [1.0, float("nan")], "b": {"c": float("inf")}})
    assert json.loads(text) == {"a": [1.0, None], "b": {"c": None}}


def test_cli_refuses_another_interface_without_expose():
    from typer.testing import CliRunner

    from bci._commands.main import app

    result = CliRunner().invoke(app, ["view", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 2 and "--expose" in result.output


@pytest.mark.timeout(60)
def test_websocket_frames_and_token(uid):
    import websockets

    pub = Publisher(f"disp-{uid}")
    names = {k: f"{k}-{uid}" for k in ("decisions", "markers", "stimuli", "truth")}
    view = ViewServer(
        ViewSettings(signal=f"disp-{uid}", port=0, host="127.0.0.1", token="s3cret", **names)
    )
    view.start()
    try:
        base = f"http://127.0.0.1:{view.port}/"
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base, timeout=5)
        assert err.value.code == 403
        assert b"uPlot" in urllib.request.urlopen(base + "?token=s3cret", timeout=5).read()

        async def read_frames() -> list[dict]:
            url = f"ws://127.0.0.1:{view.port}/ws?token=s3cret"
            frames = []
            async with websockets.connect(url) as ws:
                t_end = time.monotonic() + 20
                while time.monotonic() < t_end:
                    frames.append(json.loads(await ws.recv()))
                    got = [f for f in frames if "signal" in f]
                    if sum(f["signal"]["n"] for f in got) > 250 and any(
                        "quality" in f for f in frames
                    ):
                        break
            return frames

        frames = asyncio.run(read_frames())
    finally:
        view.stop()
        pub.stop()
    meta = next(f["meta"] for f in frames if "meta" in f)
    assert meta["ch_names"] == [f"ch{i}" for i in range(8)] and meta["display_rate"] == 125.0
    sig = [f["signal"] for f in frames if "signal" in f]
    x = np.frombuffer(base64.b64decode(sig[-1]["x"]), "<f4").reshape(8, -1)
    assert 5 < np.nanstd(x[0]) < 25  # a 20 uV sine after the 1-40 Hz band-pass
    quality = next(f["quality"] for f in frames if "quality" in f)
    assert [q["status"] for q in quality] == ["ok"] * 8
    # after the first frame, every frame is bounded by the 2 s backlog
    assert max(s["n"] for s in sig[1:]) <= 2 * 125


def test_hub_latency_overruns_and_online_accuracy():
    from types import SimpleNamespace

    from bci._view import Hub

    hub = Hub(ViewSettings(budgets_ms={"transport": 10.0, "processing": 10.0, "output": 5.0,
                                       "decision": 20.0}))  # fmt: skip
    # 100 decisions: 2 ms transport, 3 ms processing, 1 ms output; the last 5 take 30 ms more
    t = 100.0 + np.arange(100) * 0.1
    proc = np.full(100, 0.003)
    proc[-5:] += 0.030
    stamps = np.vstack([t, t + 0.002, t + 0.002 + proc, t + 0.003 + proc])
    hub._on_stamps(stamps)
    lat = hub.latency()["stages"]
    assert lat["transport"]["p50"] == pytest.approx(2.0, abs=1e-3)
    assert lat["processing"]["p99"] == pytest.approx(33.0, abs=1e-3)
    assert lat["processing"]["overruns"] == 5 and lat["decision"]["overruns"] == 5
    assert lat["transport"]["overruns"] == 0
    # a cue at t=200 for class "8.0", then decisions: 1 s after the cue scored, before it not
    hub.classes = ["8.0", "10.0", "rest"]
    cue = SimpleNamespace(data=np.array([['{"label": "ssvep_8"}']], dtype=object),
                          timestamps=np.array([200.0]))  # fmt: skip
    hub._on_truth(cue)
    times = np.array([200.5, 201.2, 201.3, 201.4, 201.5])
    labels = [1, 0, 0, 1, 0]
    data = np.zeros((4, 5), np.float32)
    data[-1] = labels
    hub._on_decisions(SimpleNamespace(data=data, timestamps=times))
    acc = hub.accuracy()
    assert acc["cue"]["class"] == "8.0"
    assert (acc["scored"], acc["correct"]) == (4, 3) and acc["chance"] == pytest.approx(1 / 3)
    dec, n = hub.decisions_since(2)
    assert n == 5 and [d[2] for d in dec] == [0, 1, 0]
