"""Helper processes (bci._child): ready / error protocol, stop at stdin's end, no __main__ re-import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bci import BCIError, DeviceError
from bci._child import ChildProcess

CHILD = """
import sys, time
from bci._child import serve

def start():
    mode = sys.argv[1]
    if mode == "fail":
        raise RuntimeError("no such device\\nsecond line")
    if mode == "silent":
        time.sleep(30)
    if mode == "exit":
        sys.exit(3)
    open(sys.argv[2], "w").write("started")
    return lambda: open(sys.argv[2], "w").write("stopped")

sys.exit(serve(start))
"""


@pytest.fixture
def child_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "bci_test_child.py").write_text(CHILD)
    monkeypatch.chdir(tmp_path)  # `python -m` finds modules in the working directory
    return "bci_test_child"


def test_ready_then_stopped_by_closing_stdin(child_module: str, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    child = ChildProcess(child_module, ["ok", str(flag)], "the test helper").start(10)
    assert flag.read_text() == "started" and child.proc.poll() is None
    child.stop()
    assert flag.read_text() == "stopped"
    child.stop()  # idempotent


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("fail", "RuntimeError: no such device second line"),
        ("exit", "no answer"),
        ("silent", "no answer within 1 s"),
    ],
)
def test_start_failures_say_why(child_module: str, tmp_path: Path, mode: str, reason: str) -> None:
    child = ChildProcess(child_module, [mode, str(tmp_path / "flag")], "the test helper")
    timeout = 1.0 if mode == "silent" else 30.0  # a failing child answers long before that
    with pytest.raises(DeviceError, match=f"the test helper failed to start: {reason}"):
        child.start(timeout, error=DeviceError)
    assert child.proc is None
    assert issubclass(DeviceError, BCIError)


def test_a_script_without_main_guard_runs_the_default_session(tmp_path: Path) -> None:
    """multiprocessing's spawn would re-run this script in the participant's process."""
    script = tmp_path / "session.py"
    script.write_text(
        "from bci import run_session\n"
        "from bci.config import SessionConfig, parse_config\n"
        f"cfg = parse_config({{'name': 'noguard', 'recording': {{'directory': r'{tmp_path}'}},\n"
        "    'outputs': {'lsl': {'name': 'noguard-dec'}, 'mqtt': {'port': 0}}}, SessionConfig)\n"
        "res = run_session(cfg, duration=3.0, handle_signals=False)\n"
        "print('decisions', res.summary['counters']['decisions'])\n"
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=180, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert int(out.stdout.split("decisions")[-1]) > 10
