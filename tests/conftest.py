"""Fixtures shared by every test folder.

Area-specific fixtures live in ``tests/<area>/conftest.py``.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = ROOT / "tests" / "data"
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def test_data() -> Path:
    """Small real recordings copied into the repository (with their licenses)."""
    return TEST_DATA


@pytest.fixture
def shared_data() -> Path:
    """The full real-recording set beside the checkout; skips when it is absent (fresh clone)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside this checkout")
    return SHARED_DATA


@pytest.fixture
def uid() -> str:
    """A unique suffix for LSL stream names and source ids, so tests never see each other."""
    return f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
