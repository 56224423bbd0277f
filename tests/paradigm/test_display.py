"""Without a screen, a paradigm is refused with the reason, before anything is recorded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = "from bci._commands.main import run; run()"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("display", [None, ":77"])
def test_live_calibration_without_a_display_says_so(tmp_path: Path, display: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    if display:
        env["DISPLAY"] = display  # nothing listens there
    res = subprocess.run(
        [sys.executable, "-c", CLI, "calibrate", "--live", "-p", "mi", "--source", "simulated",
         "--trials", "2", "-o", str(tmp_path / "model")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=110,
    )  # fmt: skip
    assert res.returncode == 1, res.stderr[-2000:]
    assert "no screen to show the paradigm on" in res.stderr
    assert ("DISPLAY is not set" if display is None else "':77' cannot be reached") in res.stderr
    assert "xvfb-run" in res.stderr and "Traceback" not in res.stderr
    assert not list(tmp_path.rglob("*.xdf"))
