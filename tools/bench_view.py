"""Benchmark the live view: what it costs the hot path, and how fast the page draws.

1. **Hot-path cost.** Scenario ``a`` of ``tools/bench_runtime.py`` (16 ch @ 250 Hz through
   real LSL, the default decoder, 10 decisions/s, the engine in this process) runs in
   segments, alternating four conditions in one run: no view; the view server (its own
   process, ``python -m bci._view``) with one WebSocket client (a separate process reading
   every frame); the view server with a real headless Chromium showing the page; the same
   with Chromium at nice +10 (separates CPU competition from the view's data path). Per
   alternation the decision-latency p99 with the view is divided by the p99 without it;
   the median of those ratios and their spread (min-max) are reported, with the CPU the
   view and its client used.
2. **Page frame rate.** Headless Chromium (selenium) shows the page for a 16 ch @ 250 Hz
   and a 64 ch @ 1 kHz stream; the frame rate is the page's own counter (plot redraws per
   second, ``window.bciView``), with the display samples/s the page received and the samples
   the server skipped for it (its bounded backlog).

Usage: ``python tools/bench_view.py [--quick] [--json F] [--md F]`` or ``bci bench --only view``.
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
CONDITIONS = ("off", "ws", "browser", "browser_nice")

WS_CLIENT = r"""
import asyncio, json, sys, time, websockets
url, dur = sys.argv[1], float(sys.argv[2])
async def main():
    n = size = samples = 0
    t0 = time.monotonic()
    async with websockets.connect(url, max_size=None) as ws:
        while time.monotonic() - t0 < dur:
            try:
                msg = await asyncio.wait_for(ws.recv(), timeout=1.0)
            except asyncio.TimeoutError:
                continue
            n += 1; size += len(msg)
            f = json.loads(msg)
            samples += f.get("signal", {}).get("n", 0)
    el = time.monotonic() - t0
    print(json.dumps({"frames_per_s": n / el, "kbytes_per_s": size / el / 1e3,
                      "display_samples_per_s": samples / el}))
asyncio.run(main())
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


def _cpu(procs: list) -> float:
    """Summed CPU % of ``procs`` since their last ``cpu_percent`` call."""
    import psutil

    total = 0.0
    for p in procs:
        try:
            total += p.cpu_percent(None)
        except psutil.NoSuchProcess:
            continue
    return round(total, 1)


def _segment(cond: str, name: str, model: Path, seg: float, tmp: Path) -> dict:
    """One segment of scenario a under ``cond``; returns decision p99 and the client's figures."""
    view = client = None
    client_out: dict = {}
    view_cpu = 0.0
    try:
        if cond != "off":
            view, addr = _start_view(name, f"{name}-decisions")
            if cond == "ws":
                client = subprocess.Popen(
                    [sys.executable, "-c", WS_CLIENT, f"ws://{addr}/ws", str(seg + 4)],
                    stdout=subprocess.PIPE,
                    text=True,
                )
            else:
                client = _chromium(
                    f"http://{addr}/",
                    tmp / f"profile-{time.monotonic_ns()}",
                    nice=10 if cond == "browser_nice" else 0,
                )
            # the client is connected and drawing (Chromium's start-up burst is over) first
            time.sleep(4.0 if cond == "ws" else 8.0)
        procs = _tree(view.proc.pid if view is not None else None) + _tree(
            client.pid if client is not None else None
        )
        for pr in procs:
            pr.cpu_percent(None)
        load0 = os.getloadavg()[0]
        res = br._ours(name, model, seg, 20.0)
        load1 = os.getloadavg()[0]
        view_cpu = _cpu(procs)
    finally:
        if client is not None and cond == "ws":
            out, _ = client.communicate(timeout=30)
            if out.strip():
                client_out = json.loads(out.strip().splitlines()[-1])
        _stop(client if cond != "ws" else None)
        if view is not None:
            view.stop()
    d = res["stages"]["decision"]
    d = d[np.isfinite(d)]
    return {
        "condition": cond,
        "p50": float(np.percentile(d, 50)),
        "p99": float(np.percentile(d, 99)),
        "decisions": int(d.size),
        "cpu": res["cpu"],
        "p95": float(np.percentile(d, 95)),
        "load": round((load0 + load1) / 2, 2),
        "view_cpu": view_cpu,
        "client": client_out,
    }


def hot_path(seg: float, rounds: int) -> list[dict]:
    """Alternate off / ws / browser ``rounds`` times on scenario a; return two result rows."""
    from bci._decoder import default_decoder_path

    model = default_decoder_path()
    name = f"bench-view-{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="bci-bench-view-"))
    have_browser = shutil.which("chromium") is not None
    conds = [c for c in CONDITIONS if not c.startswith("browser") or have_browser]
    total = rounds * len(conds) * (seg + 8) + 60
    pub = br._start_publisher(name, 16, 250.0, total, br.SIM_MONTAGE)
    segs: list[dict] = []
    try:
        time.sleep(1.0)
        for r in range(rounds):
            order = conds if r % 2 == 0 else conds[::-1]  # cancel slow drifts in host load
            for cond in order:
                logger.info("round %d/%d: %s for %g s", r + 1, rounds, cond, seg)
                segs.append({"round": r, **_segment(cond, name, model, seg, tmp)})
    finally:
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
            "browser_nice": "server + headless Chromium at nice +10",
        }[cond]
        row = {
            "name": f"hot path: {label} vs none",
            "kind": "hot_path",
            "condition": cond,
            "rounds": rounds,
            "segment_s": seg,
            "ratio_p99_median": round(float(np.median(ratios)), 3),
            "ratio_p99_min": round(float(np.min(ratios)), 3),
            "ratio_p99_max": round(float(np.max(ratios)), 3),
            "ratios": [round(x, 3) for x in ratios],
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
        s0, t0 = driver.execute_script("return window.bciView"), time.monotonic()
        fps_readings = []
        while time.monotonic() - t0 < seconds:
            time.sleep(1.0)
            fps_readings.append(driver.execute_script("return window.bciView.fps"))
        s1, t1 = driver.execute_script("return window.bciView"), time.monotonic()
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
        "need_fps": need,
        "pass": bool(fps >= need),
        "load_1min": round((load0 + load1) / 2, 2),
        "machine": br._machine(),
    }


def run(quick: bool = False, seg: float | None = None, rounds: int = 5) -> list[dict]:
    """Run both parts (the ``bci bench`` protocol: ``run(quick) -> list[dict]``).

    Parameters
    ----------
    quick : bool
        8 s segments and 8 s of page timing (else 20 s and 15 s).
    seg : float | None
        Seconds per hot-path segment (overrides ``quick``).
    rounds : int
        Alternations of the three conditions (at least 5 for the acceptance figure).
    """
    seg = seg or (8.0 if quick else 20.0)
    results = hot_path(seg, rounds)
    if Path(CHROMEDRIVER).exists():
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
            "| condition | rounds x s | decision p99 with / without (median ms) | p99 ratio median (min-max) | p99 ratio per round | p50 / p95 ratio median | CPU % of view + client | client frames/s | client kB/s | load | p99 ratio <= 1.15 |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in hot:
            lines.append(
                f"| {r['name']} | {r['rounds']} x {r['segment_s']:g} | {r['p99_on_ms_median']:.2f} / "
                f"{r['p99_off_ms_median']:.2f} | {r['ratio_p99_median']:.3f} ({r['ratio_p99_min']:.3f}-"
                f"{r['ratio_p99_max']:.3f}) | {', '.join(f'{x:.2f}' for x in r['ratios'])} | "
                f"{r['ratio_p50_median']:.3f} / {r['ratio_p95_median']:.3f} | "
                f"{r['view_and_client_cpu_percent']} | {r.get('client_frames_per_s', '-')} | {r.get('client_kbytes_per_s', '-')} | "
                f"{r['load_1min']} | {'yes' if r['pass'] else 'no'} |"
            )
    if page:
        lines += [
            "",
            "| stream | page frames/s (draws) | page counter median (min) | display samples/s received | skipped by server | load | needed | pass |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in page:
            lines.append(
                f"| {r['n_channels']} ch @ {r['sfreq']:g} Hz | {r['fps']} | {r['fps_counter_median']} "
                f"({r['fps_counter_min']}) | {r['display_samples_per_s']} | {r['skipped_by_server']} | "
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
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--md", type=Path, default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("bci", "selenium", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    results = run(args.quick, args.seg, args.rounds)
    text = markdown(results)
    print(text)  # noqa: T201 - the tool's output
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.md:
        args.md.write_text(text + "\n")


if __name__ == "__main__":
    main()
