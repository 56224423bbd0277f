"""Benchmark the live view: what it costs the hot path, and how fast the page draws.

1. **Hot-path cost.** Scenario ``a`` of ``tools/bench_runtime.py`` (16 ch @ 250 Hz through
   real LSL, the default decoder, 10 decisions/s, the engine in this process) runs once,
   without a break, while four conditions alternate in segments: no view; a plain LSL
   client of the session's decisions and stamps (no view: what any consumer of those
   outputs costs, the floor for a view that shows them); the view server (its own process,
   ``python -m bci._view``) with one WebSocket client (a separate process reading every
   frame); the view server with a real headless Chromium showing the page.
   Both view servers and their clients are started once and attach to the session's
   streams as they would to a running session; between their segments they are paused
   (``SIGSTOP``: no CPU, no wake-ups; liblsl and the WebSocket buffer what they miss and
   deliver it when they resume) and resumed 1 s before their next segment starts. Each
   decision belongs to the segment its publication time falls in. Per alternation the
   decision-latency p99 with the view is divided by the p99 without it; the median of
   those ratios and their spread (min-max, quartiles) are reported, with the CPU the view
   and its client used during their segments.
2. **Page frame rate.** Headless Chromium (selenium) shows the page for a 16 ch @ 250 Hz
   and a 64 ch @ 1 kHz stream; the frame rate is the page's own counter (trace updates per
   second, ``window.bciView``), with the display samples/s the page received and the samples
   the server skipped for it (its bounded backlog), and Chromium's CPU.

Usage: ``python tools/bench_view.py [--quick] [--rounds N] [--seg S] [--no-realtime] [--json F]
[--md F]``
or ``bci bench --only view``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "tools"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import bench_runtime as br  # noqa: E402 - after the sys.path set-up

logger = logging.getLogger("bench_view")

CHROMEDRIVER = "/usr/bin/chromedriver"
CONDITIONS = ("off", "lsl", "ws", "browser")

WS_CLIENT = r"""
import asyncio, json, os, sys, time, websockets
url, out = sys.argv[1], sys.argv[2]
async def main():
    n = size = samples = 0
    t_write = time.monotonic()
    async with websockets.connect(url, max_size=None) as ws:
        while True:
            msg = await ws.recv()
            n += 1; size += len(msg)
            samples += json.loads(msg).get("signal", {}).get("n", 0)
            if time.monotonic() - t_write >= 0.5:
                t_write = time.monotonic()
                with open(out + ".tmp", "w") as f:
                    json.dump({"frames": n, "bytes": size, "samples": samples}, f)
                os.replace(out + ".tmp", out)
asyncio.run(main())
"""


LSL_CLIENT = r"""
import sys, time, pylsl
names = sys.argv[1:]
inlets = []
while len(inlets) < len(names):
    for n in names[len(inlets):]:
        found = pylsl.resolve_byprop("name", n, 1, 1.0)
        if found:
            inlets.append(pylsl.StreamInlet(found[0], max_buflen=2))
while True:
    for inlet in inlets:
        inlet.pull_chunk(timeout=0.0)
    time.sleep(0.04)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_view(signal: str, decisions: str) -> tuple[object, str]:
    from bci._child import ChildProcess
    from bci._view import ViewSettings

    port = _free_port()
    tag = f"{signal}-none"
    settings = ViewSettings(
        signal=signal,
        decisions=decisions,
        markers=f"{tag}-markers",
        stimuli=f"{tag}-stimuli",
        truth=f"{tag}-truth",
        port=port,
    )
    child = ChildProcess("bci._view", [settings.to_json()], "the live view").start(30.0)
    return child, f"127.0.0.1:{port}"


def _chromium(url: str, profile: Path, nice: int = 0) -> subprocess.Popen:
    exe = shutil.which("chromium") or "chromium"
    return subprocess.Popen(
        [*(["nice", "-n", str(nice)] if nice else []), exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1400,1000",
         url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _tree(pid: int | None) -> list:
    """A process and its children (Chromium runs several)."""
    import psutil

    if pid is None:
        return []
    try:
        p = psutil.Process(pid)
        return [p, *p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _cpu_seconds(procs: list) -> float:
    """Summed user + system CPU seconds of ``procs``."""
    import psutil

    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            continue
    return total


def _pause(procs: list, resume: bool) -> None:
    """``SIGSTOP`` / ``SIGCONT`` every process of a view and its client."""
    import psutil

    for p in procs:
        try:
            p.resume() if resume else p.suspend()
        except psutil.NoSuchProcess:
            continue


def _client_counts(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


class _Engine:
    """Scenario a's engine (the settings of ``bench_runtime``), run in a thread of its own.

    Every decision's publication time and decision latency are kept, so segments are cut
    from one uninterrupted run.
    """

    def __init__(self, name: str, model: Path, duration: float, realtime: bool = True) -> None:
        import threading

        self.name, self.model, self.duration = name, model, duration
        self.realtime = realtime
        self.scheduling = "unknown"
        self.t_pub: list[float] = []
        self.latency_ms: list[float] = []
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._loop = self._halt = None
        self._thread = threading.Thread(target=self._run, name="bench-engine", daemon=True)

    def _on_decision(self, d: dict) -> None:
        st = d["stamps"]
        self.t_pub.append(st["t_published"])
        self.latency_ms.append((st["t_published"] - st["t_sample"]) * 1e3)

    def _run(self) -> None:
        import asyncio

        from bci._decoder import DecoderONNX
        from bci._runtime import Engine
        from bci.devices import OutletLSL, SourceLSL

        try:
            engine = Engine(
                # latencies from each sample's own LSL timestamp: no dejittering, whose
                # estimate of the sender's rate could move a decision's reference time
                SourceLSL(name=self.name, timeout=10.0, bufsize=2.0, dejitter=False),
                DecoderONNX(self.model, provider="cpu", threads=1),
                br.engine_settings(self.name, budget_ms=20.0, realtime=self.realtime),
                outlet_factory=OutletLSL,
                on_decision=self._on_decision,
            )
            engine.prepare()

            async def main() -> None:
                self._loop, self._halt = asyncio.get_running_loop(), asyncio.Event()
                self.ready.set()
                await engine.run(duration=self.duration, stop=self._halt)

            asyncio.run(main())
            started = [e for e in engine.recent_events if e["event"] == "started"]
            if started:  # what the hot path and its receiving threads ran under
                self.scheduling = (
                    f"{started[0]['scheduling']}; receiving: {started[0]['receiving']}"
                )
            engine.close()
        except BaseException as exc:  # reported by the main thread
            self.error = exc
            self.ready.set()

    def start(self) -> _Engine:
        self._thread.start()
        self.ready.wait(60)
        if self.error is not None:
            raise RuntimeError("the benchmark's engine did not start") from self.error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._halt is not None:
            self._loop.call_soon_threadsafe(self._halt.set)
        self._thread.join(30)

    def between(self, t0: float, t1: float) -> np.ndarray:
        """Decision latencies (ms) of the decisions published in ``[t0, t1)`` (LSL clock)."""
        t = np.asarray(self.t_pub[: len(self.latency_ms)])
        v = np.asarray(self.latency_ms[: t.size])
        keep = (t >= t0) & (t < t1) & np.isfinite(v)
        return v[keep]


def _segment(cond: str, engine: _Engine, seg: float, views: dict) -> dict:
    """One segment with only ``cond``'s view (if any) running."""
    import pylsl

    procs = views[cond]["procs"] if cond != "off" else []
    counts = views[cond].get("counts") if cond != "off" else None
    if procs:
        _pause(procs, resume=True)
    time.sleep(1.0)  # what liblsl and the socket buffered while paused is delivered
    try:
        c0 = _client_counts(counts) if counts else {}
        cpu0, t0, load0 = _cpu_seconds(procs), time.monotonic(), os.getloadavg()[0]
        lsl0 = pylsl.local_clock()
        time.sleep(seg)
        lsl1 = pylsl.local_clock()
        cpu1, t1, load1 = _cpu_seconds(procs), time.monotonic(), os.getloadavg()[0]
        c1 = _client_counts(counts) if counts else {}
    finally:
        if procs:
            _pause(procs, resume=False)
    el = t1 - t0
    client = {}
    if c0 and c1:
        client = {
            "frames_per_s": (c1["frames"] - c0["frames"]) / el,
            "kbytes_per_s": (c1["bytes"] - c0["bytes"]) / el / 1e3,
            "display_samples_per_s": (c1["samples"] - c0["samples"]) / el,
        }
    d = engine.between(lsl0, lsl1)
    if d.size < 10:
        raise RuntimeError(f"only {d.size} decisions in a {seg:g} s segment ({cond})")
    return {
        "condition": cond,
        "p50": float(np.percentile(d, 50)),
        "p99": float(np.percentile(d, 99)),
        "decisions": int(d.size),
        "p95": float(np.percentile(d, 95)),
        "load": round((load0 + load1) / 2, 2),
        "view_cpu": round(100 * (cpu1 - cpu0) / el, 1),
        "client": client,
        "latency_ms": d,
    }


def _start_views(name: str, conds: list[str], tmp: Path) -> dict:
    """Each condition's view server and client, started, settled and paused."""
    views: dict = {}
    for cond in conds:
        if cond == "off":
            continue
        entry: dict = {}
        if cond != "lsl":
            entry["view"], addr = _start_view(name, f"{name}-decisions")
        if cond == "lsl":  # no view: a plain LSL client of the session's decisions and stamps
            entry["view"] = None
            entry["client"] = subprocess.Popen(
                [sys.executable, "-c", LSL_CLIENT, f"{name}-decisions", f"{name}-decisions-stamps"]
            )
        elif cond == "ws":
            entry["counts"] = tmp / "ws-client.json"
            entry["client"] = subprocess.Popen(
                [sys.executable, "-c", WS_CLIENT, f"ws://{addr}/ws", str(entry["counts"])]
            )
        else:
            entry["client"] = _chromium(f"http://{addr}/", tmp / "profile")
        views[cond] = entry
    time.sleep(8.0)  # clients connected and drawing, Chromium's start-up burst over
    for entry in views.values():
        view = entry["view"]
        entry["procs"] = (_tree(view.proc.pid) if view else []) + _tree(entry["client"].pid)
        _pause(entry["procs"], resume=False)
    return views


def _stop_views(views: dict) -> None:
    for entry in views.values():
        _pause(entry.get("procs", []), resume=True)
        _stop(entry["client"])
        if entry["view"] is not None:
            entry["view"].stop()


def hot_path(
    seg: float, rounds: int, conditions: tuple[str, ...] = CONDITIONS, realtime: bool = True
) -> list[dict]:
    """Alternate the conditions ``rounds`` times on scenario a; one result row per condition.

    ``realtime=False`` runs the hot path with ordinary scheduling (``realtime_priority=None``);
    each row says what the hot path ran under.
    """
    from bci._decoder import default_decoder_path

    model = default_decoder_path()
    name = f"bench-view-{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="bci-bench-view-"))
    have_browser = shutil.which("chromium") is not None
    conds = [c for c in conditions if not c.startswith("browser") or have_browser]
    run_s = rounds * len(conds) * (seg + 1.5) + 30
    pub = br._start_publisher(name, 16, 250.0, run_s + 60, br.SIM_MONTAGE)
    segs: list[dict] = []
    views: dict = {}
    engine = None
    try:
        time.sleep(1.0)
        engine = _Engine(name, model, run_s, realtime).start()
        views = _start_views(name, conds, tmp)
        for r in range(rounds):
            order = conds if r % 2 == 0 else conds[::-1]  # cancel slow drifts in host load
            for cond in order:
                logger.info("round %d/%d: %s for %g s", r + 1, rounds, cond, seg)
                segs.append({"round": r, **_segment(cond, engine, seg, views)})
    finally:
        _stop_views(views)
        if engine is not None:
            engine.stop()
        pub.kill()
        pub.wait(5)
        shutil.rmtree(tmp, ignore_errors=True)
    rows = []
    for cond in conds[1:]:
        ratios, p99_on, p99_off, clients, loads = [], [], [], [], []
        r50, r95, cpus = [], [], []
        for r in range(rounds):
            off = next(s for s in segs if s["round"] == r and s["condition"] == "off")
            on = next(s for s in segs if s["round"] == r and s["condition"] == cond)
            ratios.append(on["p99"] / off["p99"])
            r50.append(on["p50"] / off["p50"])
            r95.append(on["p95"] / off["p95"])
            cpus.append(on["view_cpu"])
            p99_on.append(on["p99"])
            p99_off.append(off["p99"])
            loads.append(on["load"])
            if on["client"]:
                clients.append(on["client"])
        label = {
            "ws": "server + 1 WebSocket client",
            "browser": "server + headless Chromium",
            "lsl": "a plain LSL client of decisions and stamps (no view)",
        }[cond]
        on_all = [s for s in segs if s["condition"] == cond]
        off_all = [s for s in segs if s["condition"] == "off"]
        # all of a condition's decisions together: a p99 of thousands, steadier than per round
        pooled_on = np.percentile(np.concatenate([s["latency_ms"] for s in on_all]), 99)
        pooled_off = np.percentile(np.concatenate([s["latency_ms"] for s in off_all]), 99)
        row = {
            "name": f"hot path: {label} vs none",
            "kind": "hot_path",
            "condition": cond,
            "rounds": rounds,
            "segment_s": seg,
            "hot_path_scheduling": engine.scheduling,
            "decisions_per_segment": int(np.median([s["decisions"] for s in on_all + off_all])),
            "ratio_p99_median": round(float(np.median(ratios)), 3),
            "ratio_p99_min": round(float(np.min(ratios)), 3),
            "ratio_p99_max": round(float(np.max(ratios)), 3),
            "ratio_p99_iqr": [
                round(float(np.percentile(ratios, 25)), 3),
                round(float(np.percentile(ratios, 75)), 3),
            ],
            "ratios": [round(x, 3) for x in ratios],
            "pooled_p99_on_ms": round(float(pooled_on), 2),
            "pooled_p99_off_ms": round(float(pooled_off), 2),
            "pooled_p99_ratio": round(float(pooled_on / pooled_off), 3),
            "p99_on_ms_median": round(float(np.median(p99_on)), 2),
            "p99_off_ms_median": round(float(np.median(p99_off)), 2),
            "ratio_p50_median": round(float(np.median(r50)), 3),
            "ratio_p95_median": round(float(np.median(r95)), 3),
            "view_and_client_cpu_percent": round(float(np.median(cpus)), 1),
            "load_1min": round(float(np.mean(loads)), 2),
            "pass": bool(np.median(ratios) <= 1.15),
            "machine": br._machine(),
        }
        if clients:
            row["client_frames_per_s"] = round(
                float(np.median([c["frames_per_s"] for c in clients])), 1
            )
            row["client_kbytes_per_s"] = round(
                float(np.median([c["kbytes_per_s"] for c in clients])), 1
            )
        rows.append(row)
    return rows


def page_rate(n_ch: int, sfreq: float, seconds: float, need: float) -> dict:
    """Frame rate of the page in headless Chromium for an ``n_ch`` x ``sfreq`` stream."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    name = f"bench-view-fps-{n_ch}-{os.getpid()}"
    names = br.SIM_MONTAGE if n_ch == 16 else [f"EEG{i:03d}" for i in range(n_ch)]
    pub = br._start_publisher(name, n_ch, sfreq, seconds + 60, names)
    view = driver = None
    try:
        view, addr = _start_view(name, f"{name}-decisions")
        opts = webdriver.ChromeOptions()
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1400,1000"):  # fmt: skip
            opts.add_argument(arg)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        driver.get(f"http://{addr}/")
        deadline = time.monotonic() + 20
        state: dict = {}
        while time.monotonic() < deadline:
            state = driver.execute_script("return window.bciView || {}")
            if state.get("nTraces") == n_ch and state.get("samples", 0) > 0:
                break
            time.sleep(0.2)
        time.sleep(2.0)  # let the first (history) frame settle
        load0 = os.getloadavg()[0]
        browser = _tree(driver.service.process.pid)[1:]  # chromedriver's children: Chromium
        viewp = _tree(view.proc.pid)
        cpu0, vcpu0 = _cpu_seconds(browser), _cpu_seconds(viewp)
        s0, t0 = driver.execute_script("return window.bciView"), time.monotonic()
        fps_readings = []
        while time.monotonic() - t0 < seconds:
            time.sleep(1.0)
            fps_readings.append(driver.execute_script("return window.bciView.fps"))
        s1, t1 = driver.execute_script("return window.bciView"), time.monotonic()
        cpu1, vcpu1 = _cpu_seconds(browser), _cpu_seconds(viewp)
        load1 = os.getloadavg()[0]
    finally:
        if driver is not None:
            driver.quit()
        if view is not None:
            view.stop()
        pub.kill()
        pub.wait(5)
    el = t1 - t0
    fps = (s1["draws"] - s0["draws"]) / el
    return {
        "name": f"page: {n_ch} ch @ {sfreq:g} Hz",
        "kind": "page",
        "n_channels": n_ch,
        "sfreq": sfreq,
        "seconds": round(el, 1),
        "fps": round(fps, 1),
        "fps_counter_median": round(float(np.median(fps_readings)), 1),
        "fps_counter_min": round(float(np.min(fps_readings)), 1),
        "display_samples_per_s": round((s1["samples"] - s0["samples"]) / el, 1),
        "skipped_by_server": int(s1["skipped"]),
        "chromium_cpu_percent": round(100 * (cpu1 - cpu0) / el, 1),
        "view_cpu_percent": round(100 * (vcpu1 - vcpu0) / el, 1),
        "need_fps": need,
        "pass": bool(fps >= need),
        "load_1min": round((load0 + load1) / 2, 2),
        "machine": br._machine(),
    }


def run(
    quick: bool = False,
    seg: float | None = None,
    rounds: int | None = None,
    conditions: tuple[str, ...] = CONDITIONS,
    page: bool = True,
    realtime: bool = True,
) -> list[dict]:
    """Run both parts (the ``bci bench`` protocol: ``run(quick) -> list[dict]``).

    Parameters
    ----------
    quick : bool
        5 rounds of 8 s segments and 8 s of page timing (else 8 rounds of 20 s, and 15 s).
    seg : float | None
        Seconds per hot-path segment (overrides ``quick``).
    rounds : int | None
        Alternations of the conditions (overrides ``quick``; at least 5 for the
        acceptance figure).
    conditions : tuple of str
        ``off`` first, then any of ``ws``, ``browser``, ``lsl`` (a plain LSL client of the
        decisions and stamps, no view: what any consumer of the session's outputs costs).
    page : bool
        Also time the page's frame rate.
    realtime : bool
        The hot path under real-time scheduling, as sessions run it (else ordinary).
    """
    seg = seg or (8.0 if quick else 20.0)
    rounds = rounds or (5 if quick else 8)
    results = hot_path(seg, rounds, conditions, realtime)
    if page and Path(CHROMEDRIVER).exists():
        page_s = 8.0 if quick else 15.0
        results.append(page_rate(16, 250.0, page_s, 20.0))
        results.append(page_rate(64, 1000.0, page_s, 10.0))
    return results


def markdown(results: list[dict]) -> str:
    """Markdown tables: hot-path ratios, then page frame rates."""
    hot = [r for r in results if r.get("kind") == "hot_path"]
    page = [r for r in results if r.get("kind") == "page"]
    lines = []
    if hot:
        lines += [
            "| condition | rounds x s (decisions) | decision p99 with / without (median ms) | p99 ratio median (min-max; IQR) | p99 ratio per round | p99 of all decisions with / without (ms; ratio) | p50 / p95 ratio median | CPU % of view + client | client frames/s | client kB/s | load | p99 ratio median <= 1.15 |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in hot:
            lines.append(
                f"| {r['name']} | {r['rounds']} x {r['segment_s']:g} ({r['decisions_per_segment']}) | "
                f"{r['p99_on_ms_median']:.2f} / {r['p99_off_ms_median']:.2f} | "
                f"{r['ratio_p99_median']:.3f} ({r['ratio_p99_min']:.3f}-{r['ratio_p99_max']:.3f}; "
                f"{r['ratio_p99_iqr'][0]:.2f}-{r['ratio_p99_iqr'][1]:.2f}) | "
                f"{', '.join(f'{x:.2f}' for x in r['ratios'])} | "
                f"{r['pooled_p99_on_ms']:.2f} / {r['pooled_p99_off_ms']:.2f} ({r['pooled_p99_ratio']:.3f}) | "
                f"{r['ratio_p50_median']:.3f} / {r['ratio_p95_median']:.3f} | "
                f"{r['view_and_client_cpu_percent']} | {r.get('client_frames_per_s', '-')} | {r.get('client_kbytes_per_s', '-')} | "
                f"{r['load_1min']} | {'yes' if r['pass'] else 'no'} |"
            )
        lines.append(f"\nhot path: {hot[0].get('hot_path_scheduling', 'unknown')}")
    if page:
        lines += [
            "",
            "| stream | page frames/s (trace updates) | page counter median (min) | display samples/s received | skipped by server | CPU % Chromium / view | load | needed | pass |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in page:
            lines.append(
                f"| {r['n_channels']} ch @ {r['sfreq']:g} Hz | {r['fps']} | {r['fps_counter_median']} "
                f"({r['fps_counter_min']}) | {r['display_samples_per_s']} | {r['skipped_by_server']} | "
                f"{r['chromium_cpu_percent']} / {r['view_cpu_percent']} | "
                f"{r['load_1min']} | >= {r['need_fps']:g} | {'yes' if r['pass'] else 'no'} |"
            )
    if results:
        lines.append(f"\nmachine: {results[0]['machine']}")
    return "\n".join(lines)


def main() -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seg", type=float, default=None, help="seconds per hot-path segment")
    ap.add_argument("--rounds", type=int, default=None, help="alternations (default 8)")
    ap.add_argument(
        "--conditions",
        default=",".join(CONDITIONS),
        help="off first, then any of lsl, ws, browser (default: all four)",
    )
    ap.add_argument("--no-page", action="store_true", help="skip the page frame-rate part")
    ap.add_argument(
        "--no-realtime",
        action="store_true",
        help="run the hot path with ordinary scheduling (realtime_priority: null)",
    )
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--md", type=Path, default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("bci", "selenium", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    conds = tuple(args.conditions.split(","))
    if conds[0] != "off" or not set(conds) <= {"off", "ws", "browser", "lsl"}:
        ap.error("--conditions: off first, then any of ws, browser, lsl")
    results = run(args.quick, args.seg, args.rounds, conds, not args.no_page, not args.no_realtime)
    text = markdown(results)
    print(text)  # noqa: T201 - the tool's output
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.md:
        args.md.write_text(text + "\n")


if __name__ == "__main__":
    main()
