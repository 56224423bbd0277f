"""Fixtures shared by every test folder.

Area-specific fixtures live in ``tests/<area>/conftest.py``. Recordings: ``generated`` (the
simulated participant written out in every format, see ``tests/recordings.py``) for tests
that must pass on a fresh clone; ``shared_data`` (real recordings beside the checkout,
skipped where absent) for tests that need real signals.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The full real-recording set beside the checkout; skips when it is absent (fresh clone)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside this checkout")
    return SHARED_DATA


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 (recordings.Generated)
    """Every recording the project generates (tests/recordings.py), written once per session."""
    from recordings import build  # imported here: sessions that do not use it skip the cost

    return build(tmp_path_factory.mktemp("generated"))


@pytest.fixture
def uid() -> str:
    """A unique suffix for LSL stream names and source ids, so tests never see each other."""
    return f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
