"""Fixtures for the closed-loop tests.

This folder is named like the ``stimuli`` package; pytest puts ``tests/`` on ``sys.path``
(rootdir conftest), so ``import stimuli`` would find this folder as a namespace package
before the editable install's finder runs. Put the repository root first.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path[:1]:
    sys.path.insert(0, str(ROOT))
_mod = sys.modules.get("stimuli")
if _mod is not None and getattr(_mod, "__file__", None) is None:
    del sys.modules["stimuli"]
