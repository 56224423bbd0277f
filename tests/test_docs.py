"""The documentation site builds with warnings as errors, and its API reference is complete."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _public_packages() -> list[str]:
    """Installed packages whose names have no private (``_``) part, data-only ones excluded."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return [
        name
        for name in cfg["packages"]
        if not any(part.startswith("_") for part in name.split(".")) and name != "bci.configs"
    ]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    res = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    return out


def test_every_public_package_has_an_api_page():
    pages = {
        m.group(1)
        for page in (ROOT / "docs" / "api").glob("*.md")
        if (m := re.search(r"^::: ([\w.]+)\s*$", page.read_text(), re.M))
    }
    assert set(_public_packages()) <= pages, sorted(set(_public_packages()) - pages)


@pytest.mark.parametrize("module", _public_packages())
def test_api_reference_covers_every_public_name(site, module):
    """Every name in ``__all__`` has its own entry (an HTML anchor) on the module's page."""
    html = "".join(p.read_text() for p in (site / "api").glob("*.html"))
    names = [n for n in importlib.import_module(module).__all__ if not n.startswith("__")]
    missing = [n for n in names if f'id="{module}.{n}"' not in html]
    assert not missing, f"{module}: not in the API reference: {missing}"


def test_docs_do_not_point_to_private_modules():
    """The README and the user pages never tell users to import from a ``_private`` module."""
    offenders = []
    for page in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]:
        for i, line in enumerate(page.read_text().splitlines(), 1):
            if re.search(r"\b(?:from|import) bci(?:\.\w+)*\._\w+", line):
                offenders.append(f"{page.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not offenders, offenders


def test_readme_is_short_and_user_facing_text_has_no_internal_references():
    """README <= 150 lines; no issue/session numbers, design-contract numbers or paths outside
    the repository in the README, the docs or the packages' code and docstrings."""
    assert len((ROOT / "README.md").read_text().splitlines()) <= 150
    pattern = re.compile(r"issue [0-9]|session [0-9]|contract [0-9]|DESIGN\.md|\.\./shared")
    files = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]
    for folder in ("bci", "devices", "models", "stimuli", "configs"):
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in {".py", ".md", ".yaml"}]
    hits = [
        f"{path.relative_to(ROOT)}:{i}: {line.strip()}"
        for path in files
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not hits, hits
