"""``bci sys-info``: versions of everything the runtime depends on, CPU/GPU, display."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys

import typer


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def collect() -> dict[str, str]:
    """Gather the facts printed by ``bci sys-info`` (imports nothing heavy but onnxruntime)."""
    info: dict[str, str] = {
        "bci-runtime": _version("bci-runtime"),
        "Python": sys.version.split()[0] + f" ({sys.executable})",
        "Platform": platform.platform(),
        "CPU": f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical cores",
    }
    for dist in (
        "numpy",
        "scipy",
        "torch",
        "onnxruntime",
        "onnxruntime-gpu",
        "brainflow",
        "pylsl",
        "mne",
        "mne-lsl",
        "psychopy",
        "pyglet",
        "aiomqtt",
        "amqtt",
        "braindecode",
        "pyxdf",
    ):
        info[dist] = _version(dist)
    try:
        import onnxruntime as ort

        info["onnxruntime providers"] = ", ".join(ort.get_available_providers())
    except ImportError:
        info["onnxruntime providers"] = "onnxruntime not importable"
    try:
        import pylsl

        info["liblsl"] = f"{pylsl.library_version()} (protocol {pylsl.protocol_version()})"
    except Exception as exc:  # noqa: BLE001 - sys-info reports, it never fails
        info["liblsl"] = f"unavailable ({exc})"
    info["GPU"] = _gpu()
    info["Display"] = os.environ.get("DISPLAY") or "none (set DISPLAY or run under xvfb-run)"
    return info


def _gpu() -> str:
    import shutil
    import subprocess

    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            ).stdout.strip()
            if out:
                return out.replace("\n", "; ")
        except (OSError, subprocess.SubprocessError):
            pass
    return "none detected"


def sys_info() -> None:
    """Print Python, library and liblsl versions, execution providers, CPU/GPU and display."""
    info = collect()
    width = max(map(len, info))
    for key, value in info.items():
        typer.echo(f"{key:<{width}}  {value}")
