"""Fixtures for the live view: session configs with unique stream names, a headless Chromium."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pylsl
import pytest
import yaml

CHROMEDRIVER = "/usr/bin/chromedriver"


def session_yaml(path: Path, uid: str, faults: dict | None = None, **extra: object) -> Path:
    """A default session (simulated participant) whose every stream name carries ``uid``."""
    cfg: dict = {
        "name": f"view-{uid}",
        "sources": [
            {
                "kind": "simulated",
                "name": f"sim-{uid}",
                "markers": f"mk-{uid}",
                "stimuli": f"st-{uid}",
                "truth": f"tr-{uid}",
                **({"faults": faults} if faults else {}),
            }
        ],
        "preprocess": {"bandpass": [3.0, 40.0]},
        "outputs": {"lsl": {"name": f"dec-{uid}"}, "mqtt": {"enabled": False}},
        "recording": {"enabled": False},
        **extra,
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, driven by selenium (skips when it is not installed)."""
    if not Path(CHROMEDRIVER).exists() or not shutil.which("chromium"):
        pytest.skip("chromium and chromium-driver are not installed (tools/install.sh)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1100",
    ):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()


def page_state(driver: object) -> dict:
    """The page's own counters (``window.bciView``)."""
    return driver.execute_script("return window.bciView || {}")


def wait_for(driver: object, cond, timeout: float, poll: float = 0.2) -> dict:  # noqa: ANN001
    """Poll the page state until ``cond(state)`` holds; return the last state (or fail)."""
    import time

    deadline = time.monotonic() + timeout
    state: dict = {}
    while time.monotonic() < deadline:
        state = page_state(driver)
        if cond(state):
            return state
        time.sleep(poll)
    pytest.fail(f"page state after {timeout:g} s: {state}")


class Publisher:
    """A real LSL outlet pushing 8 channels of sines at 250 Hz from a thread."""

    def __init__(self, name: str) -> None:
        from bci import StreamSpec
        from bci.devices import OutletLSL

        spec = StreamSpec(name, "EEG", f"{name}-src", 250.0, tuple(f"ch{i}" for i in range(8)))
        self.out = OutletLSL(spec)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        k = 0
        t0 = pylsl.local_clock()
        while not self._stop.wait(0.02):
            n = int((pylsl.local_clock() - t0) * 250) - k
            if n <= 0:
                continue
            i = k + np.arange(n)
            x = np.vstack([20 * np.sin(2 * np.pi * 10 * i / 250 + c) for c in range(8)])
            self.out.push(x.astype(np.float32), t0 + i / 250.0)
            k += n

    def stop(self) -> None:
        self._stop.set()
        self.thread.join()
        self.out.close()
