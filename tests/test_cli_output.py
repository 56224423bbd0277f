"""What the command line prints: board connection hints, and no liblsl chatter by default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from bci._commands.main import app

BCI = Path(sys.executable).with_name("bci")


def test_devices_says_how_to_connect_each_board():
    res = CliRunner().invoke(app, ["devices", "--timeout", "0.1"])
    assert res.exit_code == 0, res.output
    rows = {line.split()[1]: line for line in res.output.splitlines() if line.startswith("  ")}
    assert "serial_port=/dev/ttyUSB0" in rows["cyton"]
    assert "mac_address" in rows["muse_2"]
    assert "ip_address=192.168.4.1" in rows["cyton_wifi"]
    assert "file=" in rows["playback_file"] and "master_board=" in rows["playback_file"]
    assert "nothing to set" in rows["synthetic"] and "nothing to set" in rows["simulated"]
    assert "no" not in rows  # BrainFlow's NO_BOARD placeholder is not a device
    assert "EMG" in rows["gforce_pro"]  # boards without EEG say what they measure


def _bci(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the console script with no liblsl config of the user's (fresh HOME, fresh cwd)."""
    env = {k: v for k, v in os.environ.items() if k != "LSLAPICFG"}
    env["HOME"] = str(tmp_path)
    return subprocess.run(
        [str(BCI), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )


def test_liblsl_info_lines_only_with_debug(tmp_path):
    quiet = _bci(tmp_path, "devices", "--no-boards", "--timeout", "0.3")
    assert quiet.returncode == 0, quiet.stderr
    assert "LSL streams visible now" in quiet.stdout
    assert "INFO|" not in quiet.stderr and "api_config.cpp" not in quiet.stderr, quiet.stderr
    loud = _bci(tmp_path, "--log-level", "debug", "devices", "--no-boards", "--timeout", "0.3")
    assert loud.returncode == 0, loud.stderr
    assert "INFO|" in loud.stderr  # liblsl's own lines are still there when asked for


def test_a_users_liblsl_config_is_left_alone(tmp_path):
    cfg = tmp_path / "lsl_api.cfg"  # liblsl reads ./lsl_api.cfg: the user's wish wins
    cfg.write_text("[log]\nlevel = 0\n")
    res = _bci(tmp_path, "devices", "--no-boards", "--timeout", "0.3")
    assert res.returncode == 0, res.stderr
    assert "INFO|" in res.stderr
