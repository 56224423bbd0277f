"""The live view in a real headless Chromium: a session, a stream that stops, a server restart."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from selenium.webdriver.support.ui import Select

from bci._view import ViewServer, ViewSettings

from .conftest import Publisher, page_state, session_yaml, wait_for

BCI = str(Path(sys.executable).with_name("bci"))


class _Run:
    """``bci run CONFIG --view`` in a subprocess; its stderr is collected by a thread."""

    def __init__(self, config: Path, duration: float) -> None:
        self.proc = subprocess.Popen(
            [BCI, "run", str(config), "--view", "--view-port", "0", "--duration", str(duration),
             "--no-live"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._t = threading.Thread(target=self._drain, daemon=True)
        self._t.start()

    def _drain(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)

    def wait_line(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if m := re.search(pattern, line):
                    return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        pytest.fail(f"no line matching {pattern!r}; stderr:\n{''.join(self.lines)[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _inked_columns(browser) -> list[int]:
    """Per channel: canvas columns with a drawn pixel in that channel's band of the traces."""
    return browser.execute_script(
        """const c = strip.cv, w = c.width, h = c.height, n = S.n;
        const px = c.getContext("2d").getImageData(0, 0, w, h).data, half = h / n / 2;
        const out = [];
        for (let i = 0; i < n; i++) {
          const yc = strip.b[i], y0 = Math.max(0, Math.floor(yc - half)), y1 = Math.min(h, Math.ceil(yc + half));
          let cols = 0;
          for (let x = 0; x < w; x++) {
            for (let y = y0; y < y1; y++) { if (px[4 * (y * w + x) + 3] > 0) { cols++; break; } }
          }
          out.push(cols);
        }
        return out;"""
    )


@pytest.mark.timeout(180)
def test_bci_run_view_in_headless_chromium(browser, tmp_path, uid):
    cfg = session_yaml(tmp_path / "s.yaml", uid, faults={"flat": ["T7"]})
    run = _Run(cfg, duration=60)
    try:
        url = run.wait_line(r"live view: (http://127\.0\.0\.1:\d+/)", 60).group(1)
        run.wait_line(r"session .* running", 60)
        browser.get(url)
        t0 = time.monotonic()
        state = wait_for(
            browser,
            lambda s: (
                s.get("nTraces") == 16 and s.get("samples", 0) > 0 and s.get("latencyRows") == 4
            ),
            timeout=5.0,
        )
        assert time.monotonic() - t0 < 5.0
        # 16 trace lines on screen, one per channel of the simulated headset: the pixels
        # drawn in each channel's band of the traces canvas span a good part of its width
        wait_for(browser, lambda s: min(_inked_columns(browser)) > 100, timeout=10.0)
        assert len(_inked_columns(browser)) == 16
        cells = browser.execute_script(
            "return [...document.querySelectorAll('#latency tbody td')].map(td => td.textContent)"
        )
        assert re.fullmatch(r"\d+\.\d\d", cells[1]) and cells[0] == "transport"
        # the decoded label changes over time (the SSVEP cue changes every 1-2 s)
        state = wait_for(browser, lambda s: s.get("labelChanges", 0) >= 3, timeout=30.0)
        assert state["label"] in ("8.0", "10.0", "12.0", "15.0", "rest")
        # the label on screen is the page's own (read together: it changes several times a second)
        shown, own = browser.execute_script(
            "return [document.getElementById('label').textContent, window.bciView.label]"
        )
        assert shown == own
        # the flat channel is coloured and named in the quality table
        wait_for(
            browser,
            lambda s: browser.execute_script("return (S.quality['T7'] || {}).status") == "flat",
            timeout=10.0,
        )
        row = browser.execute_script(
            "return document.querySelector('#quality tr[data-ch=\"T7\"]').className"
        )
        assert row == "bad"
        # cued class and running accuracy from the simulated participant's truth stream
        wait_for(
            browser,
            lambda s: (
                "%" in browser.find_element("id", "accuracy").text
                and browser.find_element("id", "cue").text != "–"
            ),
            timeout=20.0,
        )
        # the default display sweeps: the columns just ahead of the newest sample are empty
        assert browser.execute_script("return S.display") == "sweep"
        gap_ink = browser.execute_script(
            """const x = Math.ceil(xSweep(strip.tDrawn)) + 2, w = Math.floor(SWEEP_GAP * strip.w) - 4;
            if (x + w > strip.w) return -1;
            const px = strip.ctx.getImageData(x, 0, w, strip.h).data;
            let ink = 0; for (let k = 3; k < px.length; k += 4) if (px[k] > 0) ink++;
            return ink;"""
        )
        assert gap_ink in (0, -1)  # -1: the gap wraps past the right edge just now
        # scrolling draws every channel again
        Select(browser.find_element("id", "display")).select_by_value("scroll")
        wait_for(
            browser,
            lambda s: (
                browser.execute_script("return S.display") == "scroll"
                and min(_inked_columns(browser)) > 100
            ),
            timeout=10.0,
        )
        Select(browser.find_element("id", "display")).select_by_value("sweep")
        time.sleep(0.5)  # drawn again in the default display for the screenshot
        shot = tmp_path / "view.png"
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 20_000
        if target := os.environ.get("BCI_VIEW_SCREENSHOT"):
            shutil.copy(shot, target)
    finally:
        run.stop()


@pytest.mark.timeout(120)
def test_page_survives_a_source_dropping_out_and_a_server_restart(browser, uid):
    name = f"drop-{uid}"
    names = {k: f"{k}-{uid}" for k in ("decisions", "markers", "stimuli", "truth")}
    settings = ViewSettings(signal=name, port=0, **names)
    pub = Publisher(name)
    view = ViewServer(settings).start()
    port = view.port
    try:
        browser.get(f"http://127.0.0.1:{port}/")
        wait_for(browser, lambda s: s.get("nTraces") == 8 and s.get("samples", 0) > 100, 15.0)
        pub.stop()  # the source drops out
        wait_for(
            browser,
            lambda s: "stopped sending" in browser.find_element("id", "banner").text,
            timeout=10.0,
        )
        before = page_state(browser)["samples"]
        pub = Publisher(name)  # it comes back
        state = wait_for(
            browser,
            lambda s: (
                s.get("samples", 0) > before + 100
                and browser.find_element("id", "banner").text == ""
            ),
            timeout=20.0,
        )
        assert state["gaps"] >= 1  # the break is drawn, not bridged
        # the view server goes away and comes back on the same port: the page reconnects
        view.stop()
        wait_for(browser, lambda s: not s.get("connected"), timeout=10.0)
        assert "not reachable" in browser.find_element("id", "banner").text
        frames = page_state(browser)["frames"]
        view = ViewServer(ViewSettings(signal=name, port=port, **names)).start()
        wait_for(browser, lambda s: s.get("connected") and s.get("frames", 0) > frames + 10, 15.0)
        wait_for(browser, lambda s: s.get("samples", 0) > state["samples"] + 100, 15.0)
    finally:
        view.stop()
        pub.stop()
