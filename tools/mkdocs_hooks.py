"""MkDocs hook: lay out the installed package tree for the API reference.

``devices/``, ``models/`` and ``stimuli/`` sit beside ``bci/`` in the repository and install as
``bci.devices``, ``bci.models`` and ``bci.stimuli`` (``package-dir`` in pyproject.toml). The API
reference reads the sources statically, so before a build this hook mirrors the installed
layout with symlinks under ``build/api-src/bci`` (mkdocs.yml points mkdocstrings there).
It also makes the model card's include path independent of the current directory.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREE = ROOT / "build" / "api-src"


def _mirror() -> None:
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    package_dir: dict[str, str] = mapping.get("package-dir", {})
    pkg = TREE / "bci"
    pkg.mkdir(parents=True, exist_ok=True)
    wanted = {p.name: p for p in (ROOT / "bci").iterdir() if p.name != "__pycache__"}
    for name, src in package_dir.items():
        if name.startswith("bci.") and name.count(".") == 1:
            wanted[name.split(".", 1)[1]] = ROOT / src
    for link in pkg.iterdir():  # drop what no longer exists
        if link.name not in wanted:
            link.unlink()
    for name, target in wanted.items():
        link = pkg / name
        if link.is_symlink() and link.resolve() == target.resolve():
            continue
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)


def on_startup(command: str, dirty: bool) -> None:  # noqa: ARG001 - MkDocs hook signature
    """Build the mirrored tree once per ``mkdocs build``/``serve``."""
    _mirror()


def on_config(config):  # noqa: ANN001, ANN201 - MkDocs hook signature
    """Refresh the tree (also when ``mkdocs serve`` reloads the config); make snippet paths
    (``--8<-- "models/weights/MODEL_CARD.md"``) relative to the repository, not to the current
    directory, so ``mkdocs build -f path/to/mkdocs.yml`` works from anywhere."""
    _mirror()
    snippets = config["mdx_configs"].setdefault("pymdownx.snippets", {})
    snippets["base_path"] = [str(ROOT)]
    return config
