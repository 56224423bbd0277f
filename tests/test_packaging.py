"""The built wheel works outside the checkout, beside a user's own ``models/`` and ``devices/``.

How the fresh environment is made without downloading anything (torch alone is ~750 MB):

1. the package sources are copied to a temporary folder and built there with
   ``pip wheel --no-deps --no-build-isolation`` (setuptools comes from the project venv, so no
   network and nothing written into the checkout);
2. ``python -m venv --without-pip`` makes a fresh venv outside the repository;
3. a ``.pth`` file in that venv's site-packages appends the project venv's site-packages to
   ``sys.path``: the dependencies (numpy, torch, onnxruntime...) are reused, not reinstalled.
   The project's own editable install is not visible there: its finder is registered by a
   ``.pth`` file of the project venv, and ``.pth`` files are only read in site directories;
4. the project venv's pip, run by the fresh venv's interpreter, installs the wheel with
   ``--no-deps --ignore-installed`` into the fresh venv.

The commands then run from a folder that holds packages named ``models`` and ``devices``
(which raise when imported) and with that folder on ``PYTHONPATH``, as a researcher's project
would: the installed ``bci.models`` and ``bci.devices`` must not be confused with them.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Left out of the copy that is built: everything that is not package source or metadata.
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "tests", "docs", "site", "build", "recordings", "runs", "reports",
    "__pycache__", "*.egg-info", ".ruff_cache", ".pytest_cache", "*.xdf",
)  # fmt: skip


def _project_site_packages() -> str:
    paths = [p for p in site.getsitepackages() if Path(p, "numpy").is_dir()]
    return paths[0] if paths else sysconfig.get_paths()["purelib"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """A fresh venv outside the checkout with the built wheel installed; its bin and env."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    shutil.copytree(ROOT, src, ignore=_NOT_SOURCE)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "-q", "-w", str(base / "dist"), str(src)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (base / "dist").glob("bci_runtime-*.whl")

    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    purelib = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    Path(purelib, "_bci_project_deps.pth").write_text(_project_site_packages() + "\n")
    inst = subprocess.run(
        [py, "-m", "pip", "install", "--no-deps", "--ignore-installed", "--no-index",
         "--disable-pip-version-check", "-q", str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert inst.returncode == 0, inst.stdout + inst.stderr

    # A researcher's project folder: its own models/ and devices/ packages, on PYTHONPATH.
    work = base / "project"
    for name in ("models", "devices"):
        (work / name).mkdir(parents=True)
        (work / name / "__init__.py").write_text(
            f"raise ImportError('the user\\'s own {name} package was imported')\n"
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(PYTHONPATH=str(work), PATH=f"{venv / 'bin'}:{env.get('PATH', '')}")
    return {"bin": venv / "bin", "env": env, "work": work, "purelib": Path(purelib)}


def _run(installed: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(installed["bin"] / "bci"), *args],
        cwd=installed["work"], env=installed["env"], capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def test_wheel_imports_from_the_venv_not_the_checkout(installed):
    code = (
        "import bci, bci.models, bci.devices, bci.stimuli, bci.config as c;"
        "print(bci.__file__); print(bci.models.__file__); print(c.shipped_config('default.yaml'));"
        "import models"
    )
    out = subprocess.run(
        [str(installed["bin"] / "python"), "-c", code],
        cwd=installed["work"], env=installed["env"], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    lines = out.stdout.split()
    assert len(lines) == 3, out.stdout + out.stderr
    for line in lines:  # the package, its models and its configs all come from the wheel
        assert Path(line).is_relative_to(installed["purelib"]), line
        assert not Path(line).is_relative_to(ROOT), line
    # a plain `import models` still finds the user's own package (which raises)
    assert "the user's own models package was imported" in out.stderr


def test_wheel_runs_a_session(installed):
    res = _run(installed, "run", "--duration", "10")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    text = res.stdout + res.stderr
    assert "Traceback" not in text
    recordings = list((installed["work"] / "recordings").glob("*.xdf"))
    assert recordings and recordings[0].stat().st_size > 10_000, text[-2000:]


def test_wheel_calibrates_live(installed):
    res = _run(installed, "calibrate", "--live", "-p", "sim-ssvep", "-o", "calib")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out = installed["work"] / "calib"
    assert (out / "model.onnx").stat().st_size > 1000
    assert (out / "report.md").is_file() and (out / "metrics.json").is_file()
    assert "sim-ssvep" in res.stdout


def test_wheel_bench_says_it_needs_a_checkout(installed):
    res = _run(installed, "bench", "--quick", timeout=120)
    assert res.returncode != 0
    assert "source checkout" in res.stdout + res.stderr
    assert "Traceback" not in res.stdout + res.stderr
