"""Fixtures of the models tests: small synthetic recordings and the simulated montage."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bci.devices.simulated import DEFAULT_EEG_MONTAGE

SIM16 = list(DEFAULT_EEG_MONTAGE)  # the simulated participant's default 16 channels


@pytest.fixture(autouse=True)
def _one_thread():
    """2 shared cores: keep torch to one thread in these tests."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def sim16() -> list[str]:
    """The simulated participant's 16-channel montage."""
    return list(SIM16)


@pytest.fixture
def make_segments():
    """Factory of :func:`structured_segments`."""
    return structured_segments


def structured_segments(n: int = 4, seconds: float = 30.0, seed: int = 0):
    """Recordings with strong temporal and cross-channel structure (learnable by reconstruction)."""
    from bci.models import Segment

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 250)) / 250
    out = []
    for k in range(n):
        src = np.stack([np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in (1.0, 2.5)])
        mix = 1.0 + 0.2 * rng.standard_normal((8, 2))
        data = 20 * mix @ src + 2 * rng.standard_normal((8, len(t)))
        out.append(Segment(f"synthetic{k}", data.astype(np.float32), SIM16[:8], "eeg"))
    return out
